"""RFC 9457 problem details: the one place where domain errors become HTTP responses.

Every ``CustodyError`` class is listed in ``STATUS`` on purpose (a test checks that none is
missing), so adding an error means deciding its status here. Unknown exceptions become a 500
with a correlation id that is also logged; they never leak as client errors.
"""

from __future__ import annotations

import logging
import math
import uuid
from typing import TYPE_CHECKING, Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from custody import errors

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fastapi import FastAPI, Request

__all__ = ["PROBLEM_JSON", "STATUS", "install", "problem_response", "problem_type"]

PROBLEM_JSON = "application/problem+json"
_log = logging.getLogger("custody.api")

STATUS: Mapping[type[errors.CustodyError], int] = {
    errors.CustodyError: 500,
    errors.InputError: 422,
    errors.WasteCodeInvalid: 422,
    errors.CreditCodeInvalid: 422,
    errors.DigitalIdInvalid: 422,
    errors.PlateInvalid: 422,
    errors.CoordinateInvalid: 422,
    errors.EventsRefused: 422,
    errors.ReadsRefused: 422,
    errors.RecordInvalid: 422,
    errors.EvidenceError: 422,
    errors.NotALabel: 422,
    errors.LabelMalformed: 422,
    errors.LabelSchemaUnsupported: 422,
    errors.SignatureInvalid: 422,
    errors.KeyUnknown: 422,
    errors.KeyRevoked: 422,
    errors.KeyNotValidAtIssue: 422,
    errors.KeyOwnerMismatch: 422,
    errors.TrustBundleInvalid: 422,
    errors.EventMalformed: 422,
    errors.CounterReused: 422,
    errors.CounterStale: 422,
    errors.ChainBroken: 422,
    errors.NoteMalformed: 422,
    errors.CheckpointMalformed: 422,
    errors.ProofInvalid: 422,
    errors.LedgerTampered: 500,
    errors.BundleInvalid: 422,
    errors.NotFoundError: 404,
    errors.ContainerNotFound: 404,
    errors.DeviceUnknown: 404,
    errors.SigningKeyMissing: 409,
    errors.WasteCodeUnknown: 404,
    errors.PartyNotFound: 404,
    errors.ManifestNotFound: 404,
    errors.AlertNotFound: 404,
    errors.AccountNotFound: 404,
    errors.AccessError: 403,
    errors.NotAuthenticated: 401,
    errors.Forbidden: 403,
    errors.RateLimited: 429,
    errors.ConflictError: 409,
    errors.AlreadyRegistered: 409,
    errors.EventIdReused: 409,
    errors.AlertTransitionInvalid: 409,
    errors.StorageError: 503,
    errors.ConfigurationError: 500,
    errors.AuditInterrupted: 503,
}


def problem_type(code: str) -> str:
    """The problem type URI; it resolves to a page explaining the problem."""
    return f"/problems/{code}"


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    **extensions: Any,  # noqa: ANN401  # JSON members
) -> JSONResponse:
    """Build an ``application/problem+json`` response."""
    body = {"type": problem_type(code), "title": title, "status": status, "detail": detail}
    body["code"] = code
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _status_of(exc: errors.CustodyError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def _json_safe(value: object) -> object:
    if isinstance(value, str | int | float | bool | type(None)):
        return value
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return str(value)


async def _custody_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.CustodyError)  # noqa: S101  # registered for this class only
    status = _status_of(exc)
    if status >= 500:
        _log.error("custody error %s: %s", exc.code, exc.message)
    response = problem_response(
        status,
        exc.code,
        exc.title,
        exc.message,
        title_zh=exc.title_zh,
        detail_zh=exc.zh,
        context={k: _json_safe(v) for k, v in exc.context.items()},
    )
    if isinstance(exc, errors.NotAuthenticated):  # RFC 6750 section 3
        response.headers["WWW-Authenticate"] = 'Bearer realm="custody"'
    if isinstance(exc, errors.RateLimited):
        response.headers["Retry-After"] = str(
            max(1, math.ceil(float(str(exc.context.get("retry_after_s", 1)))))
        )
    return response


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101  # registered for this class only
    problems = [
        {
            "location": list(err.get("loc", ())),
            "message": err.get("msg", ""),
            "type": err.get("type"),
        }
        for err in exc.errors()
    ]
    return problem_response(
        422,
        "request-invalid",
        "Request does not match the schema",
        "; ".join(f"{'.'.join(map(str, p['location']))}: {p['message']}" for p in problems),
        title_zh="请求格式不符合接口定义",
        detail_zh="请求中有字段缺失或格式错误，详见 errors",
        errors=problems,
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101  # registered for this class only
    titles = {404: ("Not found", "未找到"), 405: ("Method not allowed", "不支持该请求方法")}
    title, title_zh = titles.get(exc.status_code, ("HTTP error", "请求错误"))
    return problem_response(
        exc.status_code, f"http-{exc.status_code}", title, str(exc.detail), title_zh=title_zh
    )


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    correlation = uuid.uuid4().hex
    _log.error("unexpected error %s", correlation, exc_info=exc)
    return problem_response(
        500,
        "internal-error",
        "Internal error",
        f"An unexpected error occurred; quote {correlation} when reporting it.",
        title_zh="服务器内部错误",
        detail_zh=f"服务器发生意外错误；报告时请提供编号 {correlation}",
        correlation_id=correlation,
    )


def install(app: FastAPI) -> None:
    """Register the problem-details handlers on an app."""
    app.add_exception_handler(errors.CustodyError, _custody_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
