"""Commands that need an answer, sent over the commands exchange with request/reply (see bus.py).

A command is imperative (``NegotiateWebRtc``); its answer is a fact in the past tense. Both travel
in the same ``Envelope`` as events, so one registry, one example per contract and one test cover
them. A command's ``type`` names it; its routing key adds the session, so it reaches only the bot
serving that session (``bus.negotiate_routing_key``).
"""

from typing import Literal
from uuid import UUID

from pydantic import Field

from voice_shared.contracts.envelope import Event, register

MAX_SDP_CHARS = 64 * 1024

__all__ = ["MAX_SDP_CHARS", "NegotiateWebRtc", "WebRtcAnswered", "WebRtcRefused"]


@register
class NegotiateWebRtc(Event):
    """Answer this SDP offer: a peer wants to join the session's local (WebRTC) room.

    Sent by the gateway to the bot serving the session; answered with ``WebRtcAnswered`` or
    ``WebRtcRefused`` on the request's ``reply_to`` queue, with its AMQP correlation id.
    """

    type = "webrtc.negotiate"
    session_id: UUID = Field(description="The session whose bot must answer.")
    sdp: str = Field(min_length=1, max_length=MAX_SDP_CHARS, description="The peer's SDP offer.")
    sdp_type: Literal["offer"] = Field(default="offer", description="Always 'offer'.")
    pc_id: str | None = Field(
        default=None, max_length=200,
        description="The peer connection to renegotiate (from an earlier answer); None for a new one.",
    )
    restart_pc: bool = Field(default=False, description="Replace the peer connection pc_id names.")
    peer: Literal["candidate", "manager"] = Field(
        description="Who is joining: the candidate (join token) or a user who manages the session "
                    "(e.g. the simulator)."
    )
    requested_by: str = Field(description="'candidate:<session>' or the user's subject, for logs.")


@register
class WebRtcAnswered(Event):
    """The bot answered an offer; the peer applies this SDP answer to connect."""

    type = "webrtc.answered"
    session_id: UUID = Field(description="The session.")
    sdp: str = Field(min_length=1, max_length=MAX_SDP_CHARS, description="The bot's SDP answer.")
    sdp_type: Literal["answer"] = Field(default="answer", description="Always 'answer'.")
    pc_id: str = Field(min_length=1, max_length=200, description="The bot's id of this peer connection.")


@register
class WebRtcRefused(Event):
    """The bot would not answer an offer (e.g. it no longer serves the session, or the SDP is bad)."""

    type = "webrtc.refused"
    session_id: UUID = Field(description="The session.")
    code: str = Field(
        pattern=r"^[a-z][a-z_]{0,63}$",
        description="Stable reason, e.g. 'not_serving_session', 'invalid_sdp', 'peer_limit'.",
    )
    message: str = Field(max_length=500, description="For people; shown to the caller.")
