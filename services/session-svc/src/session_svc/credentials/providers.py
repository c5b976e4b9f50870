"""Checking a key with its provider: one cheap authenticated GET, answered in words.

Each probe is a read-only request that any valid key may make. The provider's answer body is never
used (it could echo the key); only its status counts. Redirects are not followed, so the key goes
only to the configured base URL.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import structlog
from pydantic import SecretStr

from session_svc.settings import SessionSettings
from voice_shared.api.credentials import CredentialService, ValidationOutcome

log = structlog.get_logger()


@dataclass(frozen=True)
class Probe:
    label: str
    path: str
    base_url: Callable[[SessionSettings], str]
    headers: Callable[[str, SessionSettings], dict[str, str]]


PROBES: dict[CredentialService, Probe] = {
    CredentialService.daily: Probe(
        "Daily", "/v1/", lambda s: s.daily_api_url,
        lambda key, _: {"Authorization": f"Bearer {key}"},
    ),
    CredentialService.deepgram: Probe(
        "Deepgram", "/v1/projects", lambda s: s.deepgram_api_url,
        lambda key, _: {"Authorization": f"Token {key}"},
    ),
    CredentialService.cartesia: Probe(
        "Cartesia", "/voices", lambda s: s.cartesia_api_url,
        lambda key, s: {"X-API-Key": key, "Cartesia-Version": s.cartesia_api_version},
    ),
    CredentialService.openai: Probe(
        "OpenAI", "/v1/models", lambda s: s.openai_api_url,
        lambda key, _: {"Authorization": f"Bearer {key}"},
    ),
}


@dataclass(frozen=True)
class ProbeResult:
    outcome: ValidationOutcome
    message: str
    http_status: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "valid"


def _judge(probe: Probe, url: str, status: int) -> ProbeResult:
    name = probe.label
    if 200 <= status < 300:
        return ProbeResult("valid", f"{name} accepted the key (GET {probe.path} answered {status}).", status)
    if status == 401:
        return ProbeResult("rejected", f"{name} refused the key (HTTP 401): check that it was copied "
                                       "whole and has not been revoked.", status)
    if status == 403:
        return ProbeResult("rejected", f"{name} refused the key (HTTP 403): it is not allowed to "
                                       f"{probe.path}; give it the permissions the platform needs.", status)
    if status == 429:
        return ProbeResult("provider_error", f"{name} is rate limiting (HTTP 429), so the key was not "
                                             "checked; try again in a minute.", status)
    if status >= 500:
        return ProbeResult("provider_error", f"{name} answered HTTP {status}, so the key was not "
                                             "checked; try again later.", status)
    return ProbeResult("provider_error", f"{name} answered HTTP {status} to GET {url}, which says "
                                         "nothing about the key; check the platform's "
                                         f"{name} API URL setting.", status)


async def check_key(
    service: CredentialService, secret: SecretStr, settings: SessionSettings,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ProbeResult:
    """Call the provider with the key; never raises, and no message contains the key."""
    probe = PROBES[service]
    base = probe.base_url(settings).rstrip("/")
    url = base + probe.path
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=settings.provider_timeout_seconds, transport=transport,
                                     follow_redirects=False) as client:
            answer = await client.get(url, headers=probe.headers(secret.get_secret_value(), settings))
        result = _judge(probe, url, answer.status_code)
    except httpx.TimeoutException:
        result = ProbeResult("unreachable", f"{probe.label} did not answer within "
                                            f"{settings.provider_timeout_seconds:g} s at {base}; try again.")
    except httpx.TransportError as e:
        result = ProbeResult("unreachable", f"Could not reach {probe.label} at {base} "
                                            f"({type(e).__name__}); check the network and the API URL setting.")
    except Exception as e:  # a key that cannot even be sent, a bad URL setting: say so, never raise
        result = ProbeResult("error", f"The key could not be checked with {probe.label} ({type(e).__name__}).")
    # Belt and braces: whatever went into a message, the key does not come out.
    key = secret.get_secret_value()
    if key and key in result.message:
        result = ProbeResult(result.outcome, result.message.replace(key, "****"), result.http_status)
    log.info("credential_probe", service=service.value, outcome=result.outcome,
             http_status=result.http_status, ms=round((time.perf_counter() - started) * 1000))
    return result
