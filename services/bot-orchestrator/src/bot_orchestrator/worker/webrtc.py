"""WebRTC of local rooms: the candidate's SDP offer in, the bot's answer (with its ICE candidates) out."""

from typing import Any

import structlog

log = structlog.get_logger()

LOOPBACK = "127.0.0.1"


def restrict_ice_to_loopback() -> None:
    """Offer 127.0.0.1 as the only host candidate, process-wide.

    aioice leaves loopback out of its host candidates and would gather every other interface, so
    two peers on one machine would talk over the LAN address. Local runs and tests must keep all
    media on 127.0.0.1 (``BotSettings.ice_loopback_only``).
    """
    import aioice.ice

    def loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [LOOPBACK] if use_ipv4 else []

    if getattr(aioice.ice.get_host_addresses, "__name__", "") != loopback_only.__name__:
        aioice.ice.get_host_addresses = loopback_only
        log.info("ice_loopback_only")


async def answer_offer(sdp: str) -> Any:
    """A new peer connection that has answered ``sdp`` (no STUN/TURN servers: nothing leaves the host).

    Returns a ``SmallWebRTCConnection``; its ``get_answer()`` holds the SDP answer, ICE candidates
    included (no trickle). Raises ``ValueError`` for an SDP aiortc cannot use.
    """
    from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection

    connection = SmallWebRTCConnection(ice_servers=[])
    try:
        await connection.initialize(sdp=sdp, type="offer")
    except Exception as e:  # aiortc raises ValueError, but also others for odd SDP
        await connection.disconnect()
        raise ValueError(f"{type(e).__name__}: {e}") from e
    return connection
