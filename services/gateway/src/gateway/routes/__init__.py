"""The public REST API under /api/voice: declared and validated here, served by session-svc."""

from gateway.routes import configs, credentials, join, knowledge, sessions, webrtc

ROUTERS = (configs.router, sessions.router, knowledge.router, join.router, credentials.router, webrtc.router)
