"""One simulated interview through the gateway, as an organisation and its candidate would run it.

The organisation's side: create the config and the session, start it (invite the candidate), read the
candidate's join link. The candidate's side: open the join page, consent, press Start (which sends a
warm bot), offer WebRTC to the session's bot (the gateway holds the offer until the bot serves the
session; retried while the candidate waits in the queue), then talk (``candidate.Candidate``) until
the session is over. Then the final session, its room, and the scores (overall and per criterion) once
analytics exist.
"""

import asyncio
import copy
import json
import math
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import httpx
import structlog

from voice_cli.simulate.candidate import Answer, Candidate, Line, SessionOver, Timings, TurnTaker, loopback_only
from voice_cli.simulate.personas import Persona
from voice_cli.simulate.speech import Ears, Voice
from voice_shared.api.configs import ConfigCreate, Question
from voice_shared.auth import Role, mint_dev_token
from voice_shared.matching import words
from voice_shared.settings import ServiceSettings

log = structlog.get_logger()

EXAMPLE_CONFIG = Path(__file__).with_name("interview.json")
TERMINAL = {"completed", "failed", "cancelled"}
RETRYABLE_STATUS = {429, 502, 503, 504}  # as the join page: the bot is starting, or the gateway is busy


class SimulationError(Exception):
    """The simulation could not go on; the message says where it stopped."""


class GatewayError(SimulationError):
    def __init__(self, response: httpx.Response) -> None:
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        self.status = response.status_code
        self.code: str = error.get("code") or f"http_{response.status_code}"
        self.details: dict[str, Any] = error.get("details") or {}
        message = error.get("message") or response.text[:200]
        super().__init__(f"{response.request.method} {response.request.url.path}: {self.status} {self.code}: "
                         f"{message}")

    @property
    def retryable(self) -> bool:
        if self.status in RETRYABLE_STATUS or self.details.get("retryable") is True:
            return True
        return self.code == "session_not_joinable" and self.details.get("status") == "pending"


def load_config(path: Path, questions: int | None = None) -> dict[str, Any]:
    """A config body from a JSON (or, with PyYAML, YAML) file: its first ``questions`` questions,
    under a unique name. Validated here, so a bad file fails before anything is created."""
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as e:
            raise SimulationError("reading YAML needs PyYAML; give a .json config instead") from e
        body = yaml.safe_load(text)
    else:
        body = json.loads(text)
    if not isinstance(body, dict):
        raise SimulationError(f"{path}: a config is a JSON object")
    body = copy.deepcopy(body)
    if questions is not None:
        if questions < 1 or questions > len(body.get("questions", [])):
            raise SimulationError(f"{path} has {len(body.get('questions', []))} questions; asked for {questions}")
        body["questions"] = body["questions"][:questions]
    body["name"] = f"{body.get('name', 'Simulated interview')[:100]} {uuid.uuid4().hex[:8]}"
    ConfigCreate.model_validate(body)
    return body


@dataclass
class SimulationResult:
    """Everything the simulation saw and measured."""

    session_id: UUID
    org_id: UUID
    config_id: UUID
    persona: str
    plan: list[str]  # question ids in plan order
    asked: list[str]  # plan questions the candidate recognised, in the order heard
    lines: list[Line]
    spoken: list[str]  # the candidate's answers, as synthesized
    timings: Timings
    start_to_answer: float | None  # the candidate's Start -> the bot's first SDP answer (job picked up)
    start_to_first_speech: float | None  # the candidate's Start -> the interviewer's first audio
    status: str
    status_reason: str | None
    room_deleted: bool
    duration_seconds: float | None
    score: float | None
    criteria: dict[str, float] = field(default_factory=dict)  # criterion id -> 0-100, when analytics exist
    scorer: str | None = None
    wall_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body.update(session_id=str(self.session_id), org_id=str(self.org_id), config_id=str(self.config_id))
        return body


class Organisation:
    """The manager's calls to the gateway, with a user token of the organisation."""

    def __init__(self, client: httpx.AsyncClient, org_id: UUID, token: str) -> None:
        self.client = client
        self.org_id = org_id
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, body: Any = None, ok: Sequence[int] = (200, 201)) -> Any:
        response = await self.client.request(method, path, params={"orgId": str(self.org_id)}, json=body,
                                             headers=self.headers)
        if response.status_code not in ok:
            raise GatewayError(response)
        return response.json() if response.content else None

    async def session(self, session_id: UUID) -> dict[str, Any]:
        return dict(await self.call("GET", f"/api/voice/sessions/{session_id}"))

    async def analytics(self, session_id: UUID, wait_seconds: float) -> dict[str, Any] | None:
        """The session's current analytics once they exist; None when they do not (yet)."""
        deadline = time.monotonic() + wait_seconds
        while True:
            response = await self.client.get(f"/api/voice/analytics/{session_id}", headers=self.headers,
                                             params={"orgId": str(self.org_id)})
            if response.status_code == 200:
                return dict(response.json())
            if response.status_code != 404:
                raise GatewayError(response)
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.5)


class JoinLink:
    """The candidate's side: the join page, consent, and offers with the join token."""

    def __init__(self, client: httpx.AsyncClient, join_url: str) -> None:
        self.client = client
        self.path = urlsplit(join_url).path  # the gateway we talk to may differ from publicUrl's host
        self.token = self.path.rstrip("/").rsplit("/", 1)[-1]
        self.settings: dict[str, Any] = {}
        self.answered_at: list[float] = []  # monotonic times the bot's answers came back

    async def open(self) -> dict[str, Any]:
        """The join page's own settings (what its script reads): offer URL, consent text version."""
        page = await self.client.get(self.path)
        if page.status_code != 200:
            raise SimulationError(f"the join page answered {page.status_code}")
        found = re.search(r'<script id="join-settings" type="application/json">(.*?)</script>', page.text, re.S)
        if found is None:
            raise SimulationError("the join page has no settings script")
        self.settings = json.loads(found.group(1))
        if self.settings.get("transport") != "local":
            raise SimulationError(f"the session's room is {self.settings.get('transport')!r}; "
                                  "the simulator joins local rooms only")
        return self.settings

    async def consent(self) -> None:
        body = {"agreed": True, "consentTextVersion": self.settings["consentTextVersion"]}
        response = await self.client.post(self.settings["consentUrl"], json=body)
        if response.status_code not in (200, 201):
            raise GatewayError(response)

    async def start(self) -> dict[str, Any]:
        """Press Start: the bot job goes out; the page's state comes back (with the queue, if any)."""
        response = await self.client.post(self.settings["startUrl"])
        if response.status_code != 200:
            raise GatewayError(response)
        return dict(response.json())

    def offerer(self, stop: asyncio.Event, retry_seconds: float = 1.0, attempts: int = 120) -> Any:
        """``offer(sdp)`` for the candidate: POST it, retrying while no bot serves the session yet."""

        async def offer(sdp: str) -> Answer:
            for _ in range(attempts):
                try:
                    response = await self.client.post(
                        self.settings["offerUrl"], json={"sdp": sdp, "type": "offer"},
                        headers={"Authorization": f"Bearer {self.token}"},
                    )
                except httpx.TransportError as e:
                    log.info("offer_transport_error", error=str(e))
                else:
                    if response.status_code == 200:
                        body = response.json()
                        self.answered_at.append(time.monotonic())
                        return Answer(body["sdp"], body.get("type", "answer"), body.get("pcId"))
                    error = GatewayError(response)
                    if not error.retryable:
                        raise SessionOver(str(error))
                    log.info("offer_retry", code=error.code)
                if stop.is_set():
                    break
                await asyncio.sleep(retry_seconds)
            raise SessionOver("no bot answered the offer")

        return offer


def dev_organisation(settings: ServiceSettings | None = None, org_id: UUID | None = None) -> tuple[UUID, str]:
    """A new organisation (or ``org_id``) and an admin's dev token for it, signed like `voice token`."""
    org_id = org_id or uuid.uuid4()
    token = mint_dev_token(settings or ServiceSettings(), f"simulator-{uuid.uuid4().hex[:8]}",
                           {org_id: Role.org_admin})
    return org_id, token


async def simulate(
    client: httpx.AsyncClient,
    org_id: UUID,
    token: str,
    config: dict[str, Any],
    persona: Persona,
    *,
    voice: Voice,
    ears: Ears,
    timeout_seconds: float = 900.0,
    score_wait_seconds: float = 20.0,
    room_wait_seconds: float = 15.0,
    offer_retry_seconds: float = 1.0,
    on_started: Callable[[UUID], None] | None = None,
) -> SimulationResult:
    """Run one interview: create, start, join, talk until the session is over; return what happened."""
    began = time.monotonic()
    org = Organisation(client, org_id, token)
    plan = [Question.model_validate(q) for q in config["questions"]]
    created = await org.call("POST", "/api/voice/configs", config)
    config_id = UUID(created["id"])
    session = await org.call("POST", "/api/voice/sessions", {
        "configId": str(config_id), "interviewType": "simulation", "candidateName": f"Simulated {persona.name}",
        "candidateEmail": f"sim-{uuid.uuid4().hex[:8]}@example.com", "metadata": {"simulatedPersona": persona.name},
    })
    session_id = UUID(session["id"])
    log.info("simulation_session_created", session_id=str(session_id), persona=persona.name)
    session = await org.call("POST", f"/api/voice/sessions/{session_id}/start")
    if on_started is not None:
        on_started(session_id)
    join = JoinLink(client, session["joinUrl"] or (await org.session(session_id))["joinUrl"])
    await join.open()
    await join.consent()
    candidate = Candidate(TurnTaker(persona, plan), voice, ears)
    with loopback_only():
        await candidate.prepare()  # as the join page does during its microphone check
    started_at = time.monotonic()
    await join.start()
    stop = asyncio.Event()
    final: dict[str, Any] = {}

    async def watch_status() -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            current = await org.session(session_id)
            if current["status"] in TERMINAL:
                final.update(current)
                break
            await asyncio.sleep(0.5)
        stop.set()

    watcher = asyncio.ensure_future(watch_status())
    notes: dict[str, Any] = {}
    offer = join.offerer(stop, offer_retry_seconds, attempts=max(1, round(120 / offer_retry_seconds)))
    try:
        with loopback_only():
            try:
                await candidate.converse(offer, stop)
            except SessionOver as e:  # the room could not be joined: the session's final state says why
                notes["join_error"] = str(e)
        await asyncio.wait_for(asyncio.shield(watcher), timeout_seconds)
    except BaseException:
        # The simulation broke (or was interrupted): end the session, so no bot waits for the candidate.
        await asyncio.shield(_end(org, session_id, "simulation_failed"))
        raise
    finally:
        stop.set()
        await candidate.close()
        if not watcher.done():
            watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    if not final:
        await _end(org, session_id, "simulation_timeout")
        final = await org.session(session_id)
    room_deleted = await _room_deleted(org, session_id, room_wait_seconds)
    analytics = await org.analytics(session_id, score_wait_seconds) if score_wait_seconds > 0 else None
    result = (analytics or {}).get("result") or {}
    first = candidate.timings.first_speech_at
    return SimulationResult(
        session_id=session_id, org_id=org_id, config_id=config_id, persona=persona.name,
        plan=[q.id for q in plan], asked=list(candidate.turns.asked),
        lines=sorted(candidate.lines, key=lambda line: line.start),
        spoken=candidate.spoken, timings=candidate.timings,
        start_to_answer=join.answered_at[0] - started_at if join.answered_at else None,
        start_to_first_speech=first - started_at if first else None,
        status=final.get("status", "unknown"), status_reason=final.get("statusReason"),
        room_deleted=room_deleted, duration_seconds=final.get("durationSeconds"),
        score=result.get("overallScore"),
        criteria={c["criterionId"]: c["score100"] for c in result.get("criteria", [])},
        scorer=analytics["provenance"]["scorer"] if analytics else None,
        wall_seconds=time.monotonic() - began, extra=notes,
    )


async def _end(org: Organisation, session_id: UUID, reason: str) -> None:
    """End the session if it is still running (best effort: the platform's timeouts are the backstop)."""
    try:
        await org.call("POST", f"/api/voice/sessions/{session_id}/end", {"reason": reason}, ok=(200, 409))
    except (httpx.HTTPError, GatewayError) as e:
        log.warning("simulation_end_failed", session_id=str(session_id), error=str(e))


async def _room_deleted(org: Organisation, session_id: UUID, wait_seconds: float) -> bool:
    """Whether the session's room is gone (deleted when the session ended, asynchronously)."""
    deadline = time.monotonic() + wait_seconds
    while (await org.session(session_id)).get("room") is not None:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.5)
    return True


# --- the report -------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(p / 100 * len(ordered)))) - 1]


def word_recovery(spoken: str, heard: str) -> float:
    """The share of the spoken words found in the transcript (each word counted as often as said)."""
    said, got = Counter(words(spoken)), Counter(words(heard))
    total = sum(said.values())
    return sum((said & got).values()) / total if total else 1.0


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


def report(result: SimulationResult) -> str:
    """The transcript, the timings and the outcome, for people."""
    out = [f"Session {result.session_id} (org {result.org_id}), persona {result.persona!r}", "", "Transcript:"]
    for line in result.lines:
        who = "Interviewer" if line.speaker == "interviewer" else "Candidate"
        out.append(f"  [{line.start:6.1f}s] {who}: {line.text}")
    if not result.lines:
        out.append("  (nothing was said)")
    t = result.timings
    rows = [
        ("connect (offer -> connected)", [_ms(v) for v in t.connect]),
        ("Start pressed -> bot's SDP answer (pick-up)", [_ms(result.start_to_answer)]),
        ("Start pressed -> interviewer's first audio", [_ms(result.start_to_first_speech)]),
        ("voice-to-voice p50 / p95", [_ms(percentile(t.voice_to_voice, 50)), _ms(percentile(t.voice_to_voice, 95))]),
        ("STT per interviewer turn (candidate) p50", [_ms(percentile(t.stt, 50))]),
        ("TTS per answer (candidate) p50", [_ms(percentile(t.tts, 50))]),
    ]
    out += ["", "Timings:"] + [f"  {name:<42} {' / '.join(values)}" for name, values in rows]
    out.append(f"  {'turns measured':<42} {len(t.voice_to_voice)} (overlaps {t.overlaps}, reconnects {t.reconnects})")
    asked = ", ".join(result.asked) or "none"
    out += [
        "",
        f"Questions heard, in order: {asked} (plan: {', '.join(result.plan)})",
        f"Session: {result.status}" + (f" ({result.status_reason})" if result.status_reason else "")
        + (f", {result.duration_seconds:.0f} s active" if result.duration_seconds else ""),
        f"Room deleted: {'yes' if result.room_deleted else 'no'}",
        "Score: " + (f"{result.score:.0f}/100 ({result.scorer})" if result.score is not None
                     else "not available (no analytics yet)"),
        *(f"  {criterion:<40} {score:.0f}" for criterion, score in result.criteria.items()),
        f"Wall time: {result.wall_seconds:.0f} s",
    ]
    return "\n".join(out)


