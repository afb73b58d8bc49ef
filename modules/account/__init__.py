"""The account baseline: what exists once per AWS account (or per account and region), with one owner."""
