"""Carriers: names and aliases, tracking-number formats, check digits."""
