"""The public REST API under /api/voice: declared and validated here, served by session-svc."""

from gateway.routes import configs, knowledge, sessions

ROUTERS = (configs.router, sessions.router, knowledge.router)
