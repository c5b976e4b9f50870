"""What every public route shares: the /api/voice prefix, bearer auth, parameters and error shape."""

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Security
from fastapi.security import HTTPBearer
from pydantic import BaseModel, Field

from voice_shared.auth import authenticate

# Declared for the OpenAPI document; `authenticate` is what verifies the token (401 if absent).
bearer = HTTPBearer(auto_error=False, description="A JWT from the identity provider "
                                                  "(in development: `voice token`).")



class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable, e.g. `config_not_found`.")
    message: str = Field(description="For people; may change.")
    details: Any = Field(default=None, description="Extra context, e.g. the fields that failed.")


class ErrorResponse(BaseModel):
    """Every error the API returns."""

    error: ErrorDetail


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("Malformed JSON or an invalid cursor."),
    401: _error("Missing, expired or invalid bearer token."),
    404: _error("No such resource in this organisation (or not a member of it)."),
    422: _error("A parameter or body field is invalid; `details` lists them."),
    503: _error("The service behind the route is unavailable (`upstream_unavailable`); retry."),
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    403: _error("A member without the role this needs."),
    409: _error("The resource's state does not allow this."),
    413: _error("The body is too large."),
}


class PublicRouter(APIRouter):
    """Authenticated /api/voice routes; a bad token is a 401 before any upstream call."""

    def __init__(self, tag: str) -> None:
        super().__init__(
            prefix="/api/voice", tags=[tag], responses=ERRORS,
            dependencies=[Security(bearer), Depends(authenticate)],
        )

    def add_api_route(
        self, path: str, endpoint: Callable[..., Any], *,
        methods: set[str] | list[str] | None = None,
        responses: dict[int | str, dict[str, Any]] | None = None, **kwargs: Any,
    ) -> None:
        """Writes also document the errors only writes give."""
        if set(methods or ()) - {"GET"}:
            responses = {**WRITE_ERRORS, **(responses or {})}
        super().add_api_route(path, endpoint, methods=methods, responses=responses, **kwargs)
