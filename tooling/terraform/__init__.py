"""Terraform driving: init against the mirror, validate, plan, deploy and destroy in dependency order, the emulator and the rehearsal."""
