"""One error hierarchy for the platform, mapped to HTTP in one place."""

import json
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger()


class AppError(Exception):
    """Base of every error a client may see: a status, a stable code and a message."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code


class BadRequest(AppError):
    status, code = 400, "bad_request"


class Unauthorized(AppError):
    status, code = 401, "unauthorized"


class Forbidden(AppError):
    status, code = 403, "forbidden"


class NotFound(AppError):
    status, code = 404, "not_found"


class Conflict(AppError):
    status, code = 409, "conflict"


class Gone(AppError):
    status, code = 410, "gone"


class PayloadTooLarge(AppError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(AppError):
    status, code = 415, "unsupported_media_type"


class ValidationFailed(AppError):
    status, code = 422, "validation_failed"


class TooManyRequests(AppError):
    status, code = 429, "too_many_requests"


class ServiceUnavailable(AppError):
    status, code = 503, "service_unavailable"


def _sqlstate(exc: BaseException) -> str:
    """The SQLSTATE of a database error, looked up along its causes ('' if there is none)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(state := getattr(seen, "sqlstate", None), str):
            return state
        seen = getattr(seen, "orig", None) or seen.__cause__
    return ""


# SQLSTATE classes of a database that is gone rather than a request that is wrong: connection
# exceptions (08) and operator intervention (57: shutdown, pg_terminate_backend).
UNAVAILABLE_SQLSTATES = ("08", "57")


def unavailable_dependency(exc: BaseException) -> str | None:
    """'database', 'bus' or (a refused connection elsewhere) 'dependency' when ``exc`` or a cause of
    it means what the request needs is unreachable, not that the request is wrong."""
    from aio_pika.exceptions import AMQPConnectionError, ChannelInvalidStateError
    from asyncpg.exceptions import InterfaceError as PgInterfaceError
    from sqlalchemy.exc import DisconnectionError

    if _sqlstate(exc).startswith(UNAVAILABLE_SQLSTATES):
        return "database"
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, AMQPConnectionError | ChannelInvalidStateError):
            return "bus"
        if isinstance(seen, DisconnectionError | PgInterfaceError) or (
            isinstance(seen, DBAPIError) and seen.connection_invalidated
        ):
            return "database"
        if isinstance(seen, ConnectionError):
            return "dependency"
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return None


def unavailable_response(dependency: str) -> JSONResponse:
    return JSONResponse(
        error_body(f"{dependency}_unavailable", f"The {dependency} did not answer; try again shortly.",
                   {"retryable": True}),
        status_code=503, headers={"Retry-After": "1"},
    )


def unexpected_response(exc: BaseException) -> JSONResponse:
    """The answer to an error nothing else handled: 503 for a dependency that is gone, else 500."""
    if (dependency := unavailable_dependency(exc)) is not None:
        log.warning("dependency_unavailable", dependency=dependency, error=f"{type(exc).__name__}: {exc}")
        return unavailable_response(dependency)
    log.exception("unhandled_error", error_type=type(exc).__name__, exc_info=exc)
    return JSONResponse(
        error_body("internal_error", "An unexpected error occurred; it has been logged."),
        status_code=500,
    )


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _jsonable(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic error dicts minus the parts that are not JSON (exceptions in ctx, raw input)."""
    out = []
    for e in errors:
        out.append({"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")})
    return out


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to ``{"error": {"code", "message", "details"}}``."""

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _jsonable(list(exc.errors()))
        if any(e["type"] == "json_invalid" for e in errors):
            return JSONResponse(
                error_body("malformed_json", "The request body is not valid JSON.", errors),
                status_code=400,
            )
        fields = ", ".join(".".join(str(p) for p in e["loc"] if p != "body") for e in errors)
        return JSONResponse(
            error_body("validation_failed", f"Invalid request: check {fields}.", errors),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(json.JSONDecodeError)
    async def _bad_json(_: Request, exc: json.JSONDecodeError) -> JSONResponse:
        return JSONResponse(error_body("malformed_json", str(exc)), status_code=400)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if _sqlstate(exc).startswith("22"):
            # SQL class 22 (data exception): the database refused a value that passed validation,
            # e.g. a NUL character in a query parameter or a number out of range.
            log.warning("value_refused_by_database", sqlstate=_sqlstate(exc))
            return JSONResponse(
                error_body("invalid_value", "A value in the request cannot be stored or searched; "
                           "check it for control characters and out-of-range numbers."),
                status_code=422,
            )
        return unexpected_response(exc)

    # Other exceptions reach RequestContextMiddleware (voice_shared.http), which answers with
    # ``unexpected_response`` and does not re-raise: the server then keeps the connection open, so
    # a caller's pooled connection is not closed under the next request.
