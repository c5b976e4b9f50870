"""The organisation's own settings (today: how long its interviews' records are kept)."""
