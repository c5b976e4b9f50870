"""The `voice` command line: dev tokens, setup and `voice run`."""
