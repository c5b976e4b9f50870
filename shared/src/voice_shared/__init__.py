"""Contracts and common code shared by every service of the voice interview platform."""
