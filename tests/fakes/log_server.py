"""An in-memory custody service for the scanner's sync tests, behind a fake HTTP transport.

A real :class:`custody.ledger.Ledger` (over the in-memory store) answers the endpoints the
scanner uses, shaped exactly as ``api/endpoints`` shapes them. The server can be told to
misbehave the ways a link or a log can: be down, answer with an error status, lose the answer
after appending, refuse events by id, tamper with receipts or proofs, serve an old trust
bundle, or switch to another history signed with the same log key (a split view).
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from api.schemas.ledger import ReceiptPublic
from custody.errors import CustodyError
from custody.events import read_event
from custody.keys import KeyRole
from custody.ledger import Ledger
from custody.trust import TrustBundle
from scanners.errors import ServerUnreachable
from scanners.http import HttpResponse
from tests.fakes.ledger_store import InMemoryLedgerStore
from tests.ledger_fixtures import DEVICES, LOG_KEY, ORIGIN, T0, key

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from custody.keys import SigningKey
    from custody.ledger import Receipt

ROOT_KEY = key(9, "custody/root", "custody", KeyRole.ROOT)
BUNDLE = TrustBundle.issue(2, [LOG_KEY.record, *(k.record for k in DEVICES.values())], T0)
SIGNED_BUNDLE = BUNDLE.sign(ROOT_KEY)
OLD_BUNDLE = TrustBundle.issue(1, [LOG_KEY.record], T0).sign(ROOT_KEY)


def receipt_json(receipt: Receipt) -> dict[str, object]:
    """A receipt exactly as the service renders it."""
    return ReceiptPublic.of(receipt).model_dump(mode="json")


def _json(status: int, body: object, media: str = "application/json") -> HttpResponse:
    return HttpResponse(status, {"content-type": media}, json.dumps(body).encode())


def _problem(status: int, code: str, detail: str, **extra: object) -> HttpResponse:
    body = {"type": f"/problems/{code}", "title": code, "status": status, "detail": detail,
            "code": code, "detail_zh": f"（中文）{detail}", **extra}  # fmt: skip
    return _json(status, body, "application/problem+json")


@dataclass
class LogServer:
    """The service, as a :class:`scanners.http.Transport`."""

    log_key: SigningKey = LOG_KEY
    origin: str = ORIGIN
    ledger: Ledger = field(init=False)
    bundle: bytes = SIGNED_BUNDLE
    bundle_after_events: bytes | None = None  # published once the ledger is first used
    down: bool = False
    fail_with: list[int] = field(default_factory=list)  # statuses for the next requests
    lose_answers: int = 0  # POST /events appended but their answers never arrive
    refuse: dict[str, str] = field(default_factory=dict)  # event id -> refusal code
    tamper_receipt: Callable[[dict[str, object]], dict[str, object]] | None = None
    tamper_proof: Callable[[list[str]], list[str]] | None = None
    tamper_refusal: Callable[[dict[str, object]], dict[str, object]] | None = None
    requests: list[tuple[str, str]] = field(default_factory=list)
    posted: list[list[str]] = field(default_factory=list)  # event ids of each POST /events

    def __post_init__(self) -> None:
        self.ledger = Ledger(InMemoryLedgerStore(), self.log_key, self.origin)

    def fork(self) -> Ledger:
        """Start another history signed with the same key; return the one shown so far."""
        shown = self.ledger
        self.ledger = Ledger(InMemoryLedgerStore(), self.log_key, self.origin)
        return shown

    def event_ids(self) -> list[str]:
        """The event ids in the log, in log order."""
        store = self.ledger.store
        return [e.event_id for e in store.entries(0, store.state().size)]

    # -- the transport ----------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: float,
    ) -> HttpResponse:
        assert timeout > 0
        assert "Accept" in headers
        parts = urllib.parse.urlsplit(url)
        self.requests.append((method, parts.path))
        if self.down:
            raise ServerUnreachable("connection refused", zh="连接被拒绝")
        if self.fail_with:
            status = self.fail_with.pop(0)
            return _problem(status, f"http-{status}", "try later")
        query = dict(urllib.parse.parse_qsl(parts.query))
        try:
            return self._route(method, parts.path, query, body)
        except ServerUnreachable:
            raise
        except CustodyError as exc:
            return _problem(422, exc.code, exc.message)

    def _route(  # noqa: PLR0911  # one answer per endpoint
        self, method: str, path: str, query: dict[str, str], body: bytes | None
    ) -> HttpResponse:
        if (method, path) == ("GET", "/trust-bundle"):
            return HttpResponse(200, {"x-bundle-version": "?"}, self.bundle)
        if (method, path) == ("GET", "/trust-bundle/root"):
            return _json(200, {"public_key": str(ROOT_KEY.record.verifier_key)})
        if (method, path) == ("POST", "/events"):
            assert body is not None
            return self._events(json.loads(body)["events"])
        if (method, path) == ("GET", "/ledger/checkpoint"):
            note = self.ledger.store.state().checkpoint
            if note is None:
                return _problem(404, "not-found", "the ledger is empty")
            return HttpResponse(200, {"content-type": "text/plain"}, note)
        if (method, path) == ("GET", "/ledger/consistency"):
            old, new = int(query["old"]), int(query["new"])
            proof = [base64.b64encode(h).decode() for h in self.ledger.consistency(old, new)]
            if self.tamper_proof is not None:
                proof = self.tamper_proof(proof)
            return _json(200, {"old": old, "new": new, "proof": proof})
        if method == "GET" and path.startswith("/containers/") and path.endswith("/head"):
            entries = list(self.ledger.store.container_entries(path.split("/")[2]))
            last = entries[-1] if entries else None
            return _json(200, {"container": path.split("/")[2],
                               "index": last.index if last else None,
                               "event_hash": last.event_hash.hex() if last else None})  # fmt: skip
        return _problem(404, "http-404", f"no route {method} {path}")

    def _events(self, texts: list[str]) -> HttpResponse:
        messages = [base64.b64decode(t) for t in texts]
        signed = [read_event(m)[1] for m in messages]
        self.posted.append([s.event.event_id for s in signed])
        refused = [
            {"position": i, "code": self.refuse[s.event.event_id], "detail": "refused in test",
             "detail_zh": "测试中拒收", "event_id": s.event.event_id}
            for i, s in enumerate(signed)
            if s.event.event_id in self.refuse
        ]  # fmt: skip
        if refused and self.tamper_refusal is not None:
            refused = [self.tamper_refusal(r) for r in refused]
        if refused:
            return _problem(422, "events-refused", f"{len(refused)} refused",
                            context={"events": refused})  # fmt: skip
        receipts = self.ledger.append(signed)
        if self.bundle_after_events is not None:
            self.bundle, self.bundle_after_events = self.bundle_after_events, None
        if self.lose_answers:
            self.lose_answers -= 1
            raise ServerUnreachable("connection reset after the request", zh="连接被重置")
        rendered = [receipt_json(r) for r in receipts]
        if self.tamper_receipt is not None:
            rendered = [self.tamper_receipt(r) for r in rendered]
        status = 200 if all(r.duplicate for r in receipts) else 201
        return _json(status, {"receipts": rendered})
