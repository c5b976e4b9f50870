"""The public entry of the platform: authenticates callers and relays /api/voice to the services."""
