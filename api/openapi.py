"""The OpenAPI document, completed: every error an operation can answer is described.

Routes describe their own domain errors (404, 409, 422 ...). What every route shares is added
here, once, so no route can forget it: 401 and 403 where an account is needed, 429 on writes
(rate limits), 400 where a body may not parse, 422 where there is input to get wrong, 404
where the path names a record, 503 when the store fails and 500 for the unexpected. All are
RFC 9457 problem details, described by one ``Problem`` schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi.openapi.utils import get_openapi

from api.problems import PROBLEM_JSON

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["complete_openapi"]

_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; Chinese in title_zh and detail_zh.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "description": "/problems/{code}: what it means."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable machine-readable code."},
        "title_zh": {"type": "string"},
        "detail_zh": {"type": "string"},
        "context": {"type": "object", "description": "The facts behind the message."},
        "errors": {"type": "array", "items": {"type": "object"}},
        "correlation_id": {"type": "string"},
    },
}
_REF = {"$ref": "#/components/schemas/Problem"}
_SHARED: dict[str, str] = {
    "401": "未登录或令牌无效、过期、已吊销 · No valid token: missing, unknown, expired or revoked",
    "403": "无此权限：角色不允许 · The account's role may not do this",
    "429": "写入过于频繁：见 Retry-After · Too many writes; retry after Retry-After seconds",
    "400": "请求体无法解析（不是 UTF-8 编码的 JSON） · The body cannot be parsed (not UTF-8 JSON)",
    "404": "未找到：路径所指的记录不存在或不在权限范围内 · Not found, or out of the caller's reach",
    "422": "请求格式或内容无效 · The request does not match the schema or a field rule",
    "503": "存储故障，未接受任何内容 · The store failed; nothing was accepted",
    "500": "意外错误，带关联编号 · Unexpected error, with a correlation id to quote",
}
_WRITES = frozenset({"post", "put", "patch", "delete"})


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": _REF}}}


def _complete(operation: dict[str, Any], method: str) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    wanted = ["500", "503"]
    if operation.get("security"):
        wanted += ["401", "403"]
        if method in _WRITES:
            wanted.append("429")
    parameters = operation.get("parameters") or []
    if parameters or operation.get("requestBody"):
        wanted.append("422")
    if operation.get("requestBody"):
        wanted.append("400")
    if any(p.get("in") == "path" for p in parameters):
        wanted.append("404")
    for status in wanted:
        responses.setdefault(status, _problem(_SHARED[status]))
    for status, response in responses.items():
        if status.startswith(("4", "5")) and "content" not in response:
            response["content"] = {PROBLEM_JSON: {"schema": _REF}}


def complete_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the completed document (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, summary=app.summary,
                                   description=app.description, routes=app.routes)  # fmt: skip
            document.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
                _PROBLEM_SCHEMA
            )
            for path in document.get("paths", {}).values():
                for method, operation in path.items():
                    if isinstance(operation, dict):
                        _complete(operation, method)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
