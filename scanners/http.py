"""Talking to the custody service over HTTP with the standard library, patiently.

A scanner's link is the worst part of its day: tunnels, mountains, a base station that drops
the connection after the request went out. So every call has a timeout, and what may succeed
later (no answer, a timeout, HTTP 408, 409, 429 or 5xx) is retried with exponential back-off
and full jitter (AWS architecture blog, "Exponential Backoff And Jitter"), so a fleet of trucks
reaching coverage at the same toll gate does not hammer the server in step. What will fail
again (any other 4xx) is raised at once as :class:`~scanners.errors.ServerRefused`, carrying
the RFC 9457 problem details the service answers with.

:class:`Transport` is the port (one request, one answer); :class:`UrllibTransport` is the real
adapter and tests put fakes in its place, as httpx does with ``MockTransport``.
"""

from __future__ import annotations

import base64
import http.client
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from custody.errors import InputError
from scanners.errors import ServerRefused, ServerUnreachable

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "HttpResponse",
    "RetryPolicy",
    "ServerClient",
    "Transport",
    "UrllibTransport",
    "check_base_url",
]

_RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """An HTTP answer, whatever its status."""

    status: int
    headers: Mapping[str, str]  # names in lower case
    body: bytes


class Transport(Protocol):
    """Sends one request and returns the answer, or raises ``ServerUnreachable`` for none."""

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: float,
    ) -> HttpResponse:
        """Send one request; any HTTP status is an answer, only no answer raises."""
        ...


class UrllibTransport:
    """The real transport: ``urllib.request``, a new connection per request."""

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: float,
    ) -> HttpResponse:
        """Send one request over HTTP(S) and read the whole answer."""
        check_base_url(url)
        request = urllib.request.Request(url, data=body, headers=dict(headers), method=method)  # noqa: S310  # scheme checked above
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  # scheme checked above
                return HttpResponse(response.status, _lower(response.headers.items()),
                                    bytes(response.read()))  # fmt: skip
        except urllib.error.HTTPError as exc:
            with exc:
                try:
                    payload = bytes(exc.read())
                except (OSError, http.client.HTTPException):
                    payload = b""
                return HttpResponse(exc.code, _lower(exc.headers.items()), payload)
        except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, resets
            reason = getattr(exc, "reason", None) or exc
            raise ServerUnreachable(
                f"no answer from {_host(url)}: {reason}",
                zh=f"服务器 {_host(url)} 无应答：{reason}",
                url=url,
            ) from exc


def _lower(items: object) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in items}  # type: ignore[attr-defined]


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def check_base_url(url: str) -> str:
    """The URL without a trailing slash; ``InputError`` unless it is http(s)://host…."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise InputError(
            f"server address {url!r} must start with http:// or https:// and name a host",
            zh=f"服务器地址“{url}”须以 http:// 或 https:// 开头并包含主机名",
            field="server",
        )
    return url.rstrip("/")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to keep trying a call that may succeed later.

    ``attempts`` counts every try, the first included. Before try *n* (n >= 2) the client
    sleeps a random time between 0 and ``min(max_delay, base_delay * 2**(n-2))`` seconds.
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    timeout: float = 30.0  # per request, seconds

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_delay < 0 or self.max_delay < 0 or self.timeout <= 0:
            raise InputError(
                "retry policy: attempts >= 1, delays >= 0, timeout > 0",
                zh="重试策略：尝试次数至少 1 次，等待时间不得为负，超时须大于 0",
            )

    def delay(self, retry: int, draw: Callable[[], float]) -> float:
        """The pause before retry number ``retry`` (1 for the first retry): full jitter."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))
        return ceiling * draw()


def _jitter() -> float:
    return random.random()  # noqa: S311  # spreading retries over time, not a secret


class ServerClient:
    """The custody service's endpoints a scanner uses, with timeouts and retries."""

    def __init__(  # noqa: PLR0913  # the link's knobs, each with a default
        self,
        base_url: str,
        transport: Transport | None = None,
        retry: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = _jitter,
        token: str | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self._token = token
        self._transport = transport or UrllibTransport()
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._jitter = jitter

    # -- the mechanics ----------------------------------------------------------------------

    def call(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = None
    ) -> HttpResponse:
        """Send a request until it gets a final answer; return it if it is a success.

        Raises ``ServerRefused`` for an answer that will not change (4xx other than 408, 409,
        425, 429) and ``ServerUnreachable`` when every attempt failed for want of one.
        """
        headers = {"Accept": "application/json, application/problem+json, */*"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if content_type is not None:
            headers["Content-Type"] = content_type
        url = self.base_url + path
        last: ServerUnreachable | None = None
        for attempt in range(1, self.retry.attempts + 1):
            if attempt > 1:
                self._sleep(self.retry.delay(attempt - 1, self._jitter))
            try:
                answer = self._transport.request(method, url, body, headers, self.retry.timeout)
            except ServerUnreachable as exc:
                last = exc
                continue
            if 200 <= answer.status < 300:
                return answer
            problem = _problem(answer)
            if answer.status in _RETRY_STATUSES:
                last = ServerUnreachable(
                    f"{method} {path}: HTTP {answer.status} {problem.get('detail', '')}".strip(),
                    zh=f"{method} {path}：服务器暂时无法处理（HTTP {answer.status}），稍后重试",
                    status=answer.status,
                )
                continue
            raise _refused(method, path, answer.status, problem)
        assert last is not None  # noqa: S101  # at least one attempt ran
        raise ServerUnreachable(
            f"{last.message} (after {self.retry.attempts} attempts)",
            zh=f"{last.zh}（已尝试 {self.retry.attempts} 次）",
            **last.context,
        )

    def json(self, method: str, path: str, payload: object | None = None) -> object:
        """Call with a JSON body (if any) and read a JSON answer."""
        body = None if payload is None else json.dumps(payload).encode()
        answer = self.call(method, path, body, "application/json" if body is not None else None)
        try:
            return json.loads(answer.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ServerRefused(
                f"{method} {path}: the answer is not JSON",
                zh=f"{method} {path}：服务器应答不是 JSON",
                status=answer.status,
            ) from exc

    # -- endpoints --------------------------------------------------------------------------

    def root_key(self) -> str:
        """``GET /trust-bundle/root``: the root verifier key text (to pin, then compare)."""
        answer = self.json("GET", "/trust-bundle/root")
        key = answer.get("public_key") if isinstance(answer, dict) else None
        if not isinstance(key, str):
            raise ServerRefused(
                "GET /trust-bundle/root: no public_key", zh="根公钥应答缺少 public_key"
            )
        return key

    def trust_bundle(self) -> bytes:
        """``GET /trust-bundle``: the signed bundle bytes (verify before use)."""
        return self.call("GET", "/trust-bundle").body

    def enroll(
        self, owner: str, kind: str, public_key: bytes, description: str
    ) -> dict[str, object]:
        """``POST /devices``: enrol this device's public key; the same key again is a no-op."""
        answer = self.json(
            "POST",
            "/devices",
            {"owner": owner, "kind": kind, "public_key": base64.b64encode(public_key).decode(),
             "description": description},
        )  # fmt: skip
        if not isinstance(answer, dict):
            raise ServerRefused(
                "POST /devices: the answer is not an object", zh="设备登记应答格式错误"
            )
        return answer

    def checkpoint(self) -> bytes | None:
        """``GET /ledger/checkpoint``: the latest signed checkpoint, ``None`` for an empty log."""
        try:
            return self.call("GET", "/ledger/checkpoint").body
        except ServerRefused as exc:
            if exc.context.get("status") == 404:
                return None
            raise

    def head(self, container: str) -> str | None:
        """``GET /containers/{id}/head``: the hex hash of its latest event, None for none."""
        answer = self.json("GET", f"/containers/{urllib.parse.quote(container)}/head")
        if not isinstance(answer, dict):
            raise ServerRefused("head: the answer is not an object", zh="容器最新事件应答格式错误")
        found = answer.get("event_hash")
        return found if isinstance(found, str) else None


def _problem(answer: HttpResponse) -> dict[str, object]:
    """The problem details of an error answer (empty when the body is not one)."""
    try:
        body = json.loads(answer.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def _refused(method: str, path: str, status: int, problem: dict[str, object]) -> ServerRefused:
    code = str(problem.get("code", f"http-{status}"))
    detail = str(problem.get("detail", "")) or f"HTTP {status}"
    detail_zh = str(problem.get("detail_zh", "")) or detail
    context = problem.get("context")
    return ServerRefused(
        f"{method} {path} refused [{code}]: {detail}",
        zh=f"服务器拒绝 {method} {path}（{code}）：{detail_zh}",
        status=status,
        problem_code=code,
        problem_context=context if isinstance(context, dict) else {},
    )
