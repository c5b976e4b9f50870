"""Provider credentials: org and platform keys, their secrets behind a port, validation, resolution."""
