"""Rooms: where a session's bot and candidate meet (a port with a local and a Daily adapter)."""
