"""Observability: the alarms each region raises about itself, and where it sends them."""
