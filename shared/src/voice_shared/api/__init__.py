"""Public API models shared by the gateway (OpenAPI, edge validation) and session-svc."""
