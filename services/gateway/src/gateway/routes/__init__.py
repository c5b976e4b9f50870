"""The public REST API under /api/voice: declared and validated here, served by the owning service."""

from gateway.routes import (
    analytics,
    configs,
    credentials,
    join,
    knowledge,
    live,
    org,
    pool,
    sessions,
    transcripts,
    webrtc,
)

ROUTERS = (configs.router, sessions.router, transcripts.router, transcripts.downloads, live.router,
           knowledge.router, org.router, join.router, credentials.router, webrtc.router, analytics.router,
           pool.router)
