"""WebRTC signalling of local rooms: the peer's SDP offer and the bot's answer (public API)."""

from typing import Literal

from pydantic import ConfigDict, Field

from voice_shared.api.common import ApiModel, WriteModel
from voice_shared.contracts.commands import MAX_SDP_CHARS


class WebRtcOffer(WriteModel):
    """A peer's offer; ``pc_id``/``restart_pc`` are accepted as well (Pipecat's client sends them)."""

    # SDP is line-oriented and ends with CRLF: it is relayed exactly as sent.
    model_config = ConfigDict(**{**WriteModel.model_config, "str_strip_whitespace": False})

    sdp: str = Field(min_length=1, max_length=MAX_SDP_CHARS, description="The SDP offer.")
    type: Literal["offer"] = Field(default="offer", description="Always 'offer'.")
    pc_id: str | None = Field(
        default=None, max_length=200, description="Renegotiate this peer connection (from an earlier answer)."
    )
    restart_pc: bool = Field(default=False, description="Replace the peer connection pcId names.")


class WebRtcAnswer(ApiModel):
    """The bot's SDP answer; its ICE candidates are in the SDP (no trickle)."""

    sdp: str = Field(description="The SDP answer.")
    type: Literal["answer"] = Field(default="answer", description="Always 'answer'.")
    pc_id: str = Field(description="The bot's id of this peer connection, for renegotiation.")
