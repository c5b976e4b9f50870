"""The candidate's join page and its error pages, rendered from templates/ (no template engine:
every value is HTML-escaped here, and the page's script reads its settings from inline JSON)."""

import json
from datetime import datetime
from functools import cache
from html import escape
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlsplit

from fastapi.responses import HTMLResponse

from voice_shared.api.join import JoinInfo

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

# Names the wording of the consent in join.html; stored with the candidate's consent.
# Change it whenever that wording changes, so every stored consent points at the text agreed to.
CONSENT_TEXT_VERSION = "2025-01"

# Daily rooms live on the account's subdomain; before consent the page does not know the room yet.
DAILY_ROOMS = "https://*.daily.co"

ASSETS = {"join.js": "text/javascript", "join.css": "text/css"}


@cache
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("https", "http") and parts.netloc else None


def _headers(frame_origin: str | None = None) -> dict[str, str]:
    """No caching (the URL is a credential), no Referer (so it never leaks), scripts only from here."""
    frames = frame_origin or "'none'"
    csp = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
           f"media-src 'self' blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; frame-src {frames}")
    return {
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": csp,
    }


def _script_json(value: dict[str, Any]) -> str:
    """JSON that is safe inside <script type="application/json"> (no closing tag can appear)."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _date(value: datetime | None) -> str:
    return value.strftime("%d %B %Y at %H:%M UTC") if value else ""


def join_page(token: str, info: JoinInfo) -> HTMLResponse:
    """The consent page, then the interview (WebRTC for local rooms, Daily's room otherwise)."""
    company = info.company_name or "the organisation that invited you"
    settings = {
        "sessionId": str(info.session_id),
        "token": token,
        "transport": info.transport,
        "consentUrl": f"/join/{token}/consent",
        "startUrl": f"/join/{token}/start",
        "stateUrl": f"/join/{token}/state",
        "offerUrl": f"/api/voice/sessions/{info.session_id}/webrtc/offer",
        "consentTextVersion": CONSENT_TEXT_VERSION,
        "consented": info.consent_at is not None,
        "roomUrl": info.room_url,
        "meetingToken": info.meeting_token,
        "interviewerName": info.interviewer_name,
        "iceServers": [],  # host candidates only: the embedded transport runs on the same host
    }
    values = {
        "interviewer": escape(info.interviewer_name),
        "candidate": escape(info.candidate_name),
        "company": escape(company),
        "title_company": escape(info.company_name or "your interviewer"),
        "minutes": str(info.max_duration_minutes),
        "retention_days": str(info.data_retention_days),
        "lang": escape(info.language),
        "consent_version": escape(CONSENT_TEXT_VERSION),
        "checked": " checked" if info.consent_at else "",
        "consented_note": (
            f'<p class="note">You agreed on {escape(_date(info.consent_at))}.</p>' if info.consent_at else ""
        ),
        "deadline_note": (
            f'<p id="deadline" class="note">You can start the interview until {escape(_date(info.join_deadline))}.</p>'
            if info.join_deadline else ""
        ),
        "settings_json": _script_json(settings),
    }
    html = _template("join.html").substitute(values)
    frames = _origin(info.room_url) or (DAILY_ROOMS if info.transport == "daily" else None)
    return HTMLResponse(html, headers=_headers(frames))


def error_page(status: int, title: str, message: str) -> HTMLResponse:
    """A page a person can read (never JSON) for a link that cannot be used."""
    html = _template("join_error.html").substitute(title=escape(title), message=escape(message))
    return HTMLResponse(html, status_code=status, headers=_headers())


def asset(name: str) -> tuple[bytes, str] | None:
    """The page's script or stylesheet, by exact name only."""
    media_type = ASSETS.get(name)
    if media_type is None:
        return None
    return (STATIC / name).read_bytes(), media_type
