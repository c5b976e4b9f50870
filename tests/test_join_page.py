"""The candidate's join page in headless Chromium (Debian's), served by a real gateway over HTTP
with session-svc behind it: the disclosure is shown, consent is stored, then the page's WebRTC
client posts its offer and applies the answer of a test responder.

The offer travels the gateway's real route and the bus; the test responder serves the session's
negotiation queue as the bot does, and answers with a real RTCPeerConnection in a second page of
the same browser. ICE candidates are removed from both descriptions, so no connectivity check is
made: Chromium gathers no 127.0.0.1 candidates, and tests stay on 127.0.0.1.
"""

import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from gateway.app import create_app as create_gateway
from gateway.join_page import CONSENT_TEXT_VERSION
from gateway.settings import GatewaySettings
from voice_shared.testing import auth, config_body, serving, session_body

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_ARGS = [
    "--use-fake-ui-for-media-stream",  # grant the microphone without a prompt
    "--use-fake-device-for-media-stream",  # a synthetic microphone
    "--autoplay-policy=no-user-gesture-required",
    "--disable-features=WebRtcHideLocalIpsWithMdns",  # no mDNS announcements for host candidates
]
TIMEOUT_MS = 15_000

# The bot's side of the call, in the responder page: answer with a tone on the audio transceiver.
ANSWER_JS = """async (offer) => {
  const pc = new RTCPeerConnection({iceServers: []});
  window.responderPc = pc;
  const ctx = new AudioContext();
  const tone = ctx.createOscillator();
  const out = ctx.createMediaStreamDestination();
  tone.connect(out);
  tone.start();
  await pc.setRemoteDescription(offer);
  const [audio] = pc.getTransceivers();
  audio.direction = "sendrecv";
  await audio.sender.replaceTrack(out.stream.getAudioTracks()[0]);
  await pc.setLocalDescription(await pc.createAnswer());
  return {sdp: pc.localDescription.sdp, type: pc.localDescription.type};
}"""

Answerer = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def without_candidates(sdp: str) -> str:
    """The description minus its ICE candidates: signalling is tested, no packet is sent.

    Every line ends with CRLF, the last one too: Chromium's parser requires it, and the offer
    route's body model strips surrounding whitespace (aiortc, the real bot, does not mind).
    """
    lines = [line for line in sdp.splitlines() if line and not line.startswith(("a=candidate", "a=end-of-candidates"))]
    return "\r\n".join(lines) + "\r\n"




@asynccontextmanager
async def real_gateway(platform_env: dict[str, str], session_svc_app: Any) -> AsyncIterator[str]:
    """The gateway app, lifespan running, over real HTTP; session-svc in process behind it."""
    upstream = httpx.AsyncClient(transport=httpx.ASGITransport(app=session_svc_app), base_url="http://session-svc")
    app = create_gateway(GatewaySettings(**platform_env), upstreams={"session-svc": upstream})  # type: ignore[arg-type]
    try:
        async with app.router.lifespan_context(app), serving(app) as base:
            yield base
    finally:
        await upstream.aclose()


@asynccontextmanager
async def bus_responder(base_settings: Any, session_id: uuid.UUID, answer: Answerer,
                        offers: list[dict[str, Any]]) -> AsyncIterator[None]:
    """Serve the session's WebRTC negotiation on the bus, as the bot serving it would."""
    from voice_shared.bus import make_broker, serve_negotiation
    from voice_shared.contracts import WebRtcAnswered

    async def negotiate(command: Any, request: Any) -> Any:
        offers.append({"sdp": command.sdp, "type": command.sdp_type, "peer": command.peer})
        answered = await answer({"sdp": command.sdp, "type": command.sdp_type})
        return WebRtcAnswered(session_id=session_id, sdp=answered["sdp"], pc_id="test-responder")

    broker = make_broker(base_settings)
    # Held for as long as it serves: the broker keeps only a weak reference to it.
    subscriber = serve_negotiation(broker, base_settings.bus_namespace, session_id, negotiate)
    await broker.start()
    try:
        yield
    finally:
        await broker.stop()
        del subscriber


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (`make test` installs it: apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        yield browser
        await browser.close()


async def test_the_candidate_reads_consents_and_gets_the_bots_answer(  # type: ignore[no-untyped-def]
    browser, platform_env, base_settings, session_svc_app, gateway, token
) -> None:
    from playwright.async_api import expect

    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    q = f"?orgId={org}"
    config = (await gateway.post(f"/api/voice/configs{q}", json=config_body(botName="Ada"), headers=admin)).json()
    session = (await gateway.post(f"/api/voice/sessions{q}", headers=admin, json=session_body(
        config["id"], candidateName="Grace Hopper", metadata={"companyName": "Harvard Mark I"}))).json()
    sid = session["id"]
    started = (await gateway.post(f"/api/voice/sessions/{sid}/start{q}", headers=admin)).json()
    assert started["status"] == "ready", started
    join_path = urlsplit(started["joinUrl"]).path

    context = await browser.new_context()
    page, responder = await context.new_page(), await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    offers: list[dict[str, Any]] = []

    async def answer(offer: dict[str, Any]) -> dict[str, Any]:
        offer = {**offer, "sdp": without_candidates(offer["sdp"])}
        answered = await responder.evaluate(ANSWER_JS, offer)
        return {**answered, "sdp": without_candidates(answered["sdp"])}

    async with real_gateway(platform_env, session_svc_app) as base:
        response = await page.goto(base + join_path)
        assert response is not None and response.status == 200

        # The disclosure, before anything connects.
        await expect(page.locator("h1")).to_have_text("Your interview with Harvard Mark I")
        await expect(page.locator("#fact-ai")).to_contain_text("Your interviewer, Ada, is an AI, not a person.")
        await expect(page.locator("#fact-recording")).to_contain_text("recorded and transcribed")
        await expect(page.locator("#fact-retention")).to_contain_text(
            f"kept for {base_settings.data_retention_days} days")
        await expect(page.locator("#call")).to_be_hidden()

        # Joining without agreeing is refused, accessibly; nothing is stored or sent.
        await page.get_by_role("button", name="Agree and continue").click()
        await expect(page.get_by_role("alert")).to_have_text("Tick the box to agree before you join.")
        consent_box = page.get_by_label("I understand that I will be interviewed by an AI", exact=False)
        await expect(consent_box).to_be_focused()
        unconsented = (await gateway.get(f"/api/voice/sessions/{sid}{q}", headers=admin)).json()
        assert unconsented["consentAt"] is None and offers == []

        await consent_box.check()
        await page.get_by_role("button", name="Agree and continue").click()
        # The microphone check, then Start: no interviewer is sent before it.
        await expect(page.locator("#ready")).to_be_visible()
        await expect(page.locator("#mic-status")).to_have_text(
            "Your microphone works: say something and watch the bar move.", timeout=TIMEOUT_MS)
        await expect(page.locator("#deadline")).to_contain_text("You can start the interview until")
        waiting = (await gateway.get(f"/api/voice/sessions/{sid}{q}", headers=admin)).json()
        assert waiting["consentAt"] is not None and waiting["dispatchedAt"] is None
        await page.get_by_role("button", name="Start the interview").click()
        await expect(page.locator("#call")).to_be_visible()
        pressed = (await gateway.get(f"/api/voice/sessions/{sid}{q}", headers=admin)).json()
        assert pressed["dispatchedAt"] is not None  # the interviewer was sent by the candidate's Start
        # No bot serves the session yet: the page says so and offers again until one does.
        await expect(page.locator("#status")).to_have_text("Waiting for Ada to be ready…", timeout=TIMEOUT_MS)
        async with bus_responder(base_settings, uuid.UUID(sid), answer, offers):
            await expect(page.locator("#call")).to_have_attribute("data-phase", "answered", timeout=TIMEOUT_MS)
        await expect(page.locator("#status")).to_have_text("Connecting to Ada…")

    # Consent stored on the session, with the version of the text shown.
    shown = (await gateway.get(f"/api/voice/sessions/{sid}{q}", headers=admin)).json()
    assert shown["consentAt"] is not None
    assert shown["consentTextVersion"] == CONSENT_TEXT_VERSION

    # One offer from the candidate's microphone, with a data channel for captions.
    [offer] = offers
    assert offer["type"] == "offer" and offer["sdp"].startswith("v=0")
    assert "m=audio" in offer["sdp"] and "a=sendrecv" in offer["sdp"] and "m=application" in offer["sdp"]
    assert offer["peer"] == "candidate"
    signalling = await page.evaluate("window.voiceJoin.state.pc.signalingState")
    assert signalling == "stable"  # the answer was applied

    # Captions: what the bot's data channel delivers is shown through the page's caption hook.
    await page.evaluate("""() => {
      const send = (m) => window.voiceJoin.handleDataMessage(JSON.stringify(m));
      send({type: "caption", speaker: "interviewer", text: "Hello Grace, shall we begin?"});
      send({label: "rtvi-ai", type: "user-transcription", data: {text: "Yes, let", final: false}});
      send({label: "rtvi-ai", type: "user-transcription", data: {text: "Yes, let's begin.", final: true}});
      window.voiceJoin.handleDataMessage("ping: 1");
    }""")
    await expect(page.locator("#captions li")).to_have_count(2)
    await expect(page.locator("#captions li").nth(0)).to_have_text("Ada:Hello Grace, shall we begin?")
    await expect(page.locator("#captions li").nth(1)).to_have_text("You:Yes, let's begin.")

    await page.get_by_role("button", name="Leave the interview").click()
    await expect(page.locator("#status")).to_have_text("You have left the interview. You can close this page.")
    assert errors == []
    await context.close()



