"""Alerts the checker raised, and what people decided about them.

Listing is paginated with a cursor: each page's ``next`` is passed back as ``cursor`` until it
is null. An alert's state moves ``open`` → ``acknowledged`` → ``escalated`` or ``dismissed``;
dismissing and reopening need a reason; every change is kept with who made it and when.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from api.auth import allow, decided_by, writer
from api.schemas.checker import AlertChangeCreate, AlertDetail, AlertPage, AlertPublic
from api.schemas.times import Instant
from api.scope import ensure_alert
from custody.access import OFFICER_ROLES, PARTY_ROLES, Principal
from custody.alerts import AlertFilter, Alerts, AlertState, Severity
from custody.credit_code import parse_credit_code
from custody.digital_id import parse_digital_id
from custody.plates import parse_plate
from custody.wastes import parse_waste_code
from storage.alert_store import SqlAlertStore

router = APIRouter(tags=["alerts"])

MAX_PAGE = 500

_NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {"description": "No alert with that id (problem details)"}
}
_INVALID: dict[int | str, dict[str, object]] = {
    422: {"description": "Bad filter, identifier or cursor (problem details)"}
}
_CONFLICT: dict[int | str, dict[str, object]] = {
    409: {
        "description": "The alert cannot move from its state to the one asked, or a dismissal "
        "or reopening gives no reason (problem details)"
    }
}


def _alerts(request: Request) -> Alerts:
    # Its own connections, not the request's session: raising alerts and changes are
    # short transactions of their own (see storage/alert_store.py).
    return Alerts(SqlAlertStore(request.app.state.engine))


AlertsDep = Annotated[Alerts, Depends(_alerts)]


def _store(request: Request) -> SqlAlertStore:
    return SqlAlertStore(request.app.state.engine)


StoreDep = Annotated[SqlAlertStore, Depends(_store)]
#: Who reads alerts: the parties they name, and officers.
ReaderDep = Annotated[Principal, Depends(allow(*PARTY_ROLES, *OFFICER_ROLES))]
#: Who decides about them: officers.
DeciderDep = Annotated[Principal, Depends(writer(*OFFICER_ROLES))]


@router.get("/alerts", responses=_INVALID)
def list_alerts(  # noqa: PLR0913, PLR0917  # FastAPI passes one parameter per filter
    store: StoreDep,
    principal: ReaderDep,
    rule: Annotated[str | None, Query(max_length=64, examples=["missing-handoff"])] = None,
    state: Annotated[AlertState | None, Query()] = None,
    min_severity: Annotated[Severity | None, Query(description="This severity or above.")] = None,
    container: Annotated[str | None, Query(description="Digital identification code.")] = None,
    vehicle: Annotated[str | None, Query(description="Plate, e.g. 川A12345.")] = None,
    party: Annotated[str | None, Query(description="Credit code of a party involved.")] = None,
    waste_code: Annotated[
        str | None, Query(description="Waste code of a container named, e.g. 900-041-49.")
    ] = None,
    since: Annotated[Instant | None, Query(description="Window ends at or after.")] = None,
    until: Annotated[Instant | None, Query(description="Window starts before.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=64, description="`next` of the page before.")
    ] = None,
) -> AlertPage:
    """Alerts matching every filter given, most severe first, then the latest, then by id.

    Only alerts naming a party in the caller's reach: its own company, or an officer's
    districts.
    """
    where = AlertFilter(
        rule=rule,
        state=state,
        min_severity=min_severity,
        container=parse_digital_id(container).text if container else None,
        vehicle=parse_plate(vehicle).text if vehicle else None,
        party=parse_credit_code(party).text if party else None,
        waste_code=parse_waste_code(waste_code) if waste_code else None,
        since=since,
        until=until,
        reach=principal.reach,
    )
    found = store.list_alerts(where, limit=limit + 1, after=cursor)  # one more: is there a next?
    page = found[:limit]
    more = len(found) > limit
    return AlertPage(items=[AlertPublic.of(a) for a in page],
                     next=page[-1].alert_id if more else None)  # fmt: skip


@router.get("/alerts/{alert_id}", responses=_NOT_FOUND)
def get_alert(alert_id: str, alerts: AlertsDep, principal: ReaderDep) -> AlertDetail:
    """One alert with every change of its state, oldest first."""
    alert = ensure_alert(principal, alerts.get(alert_id))
    return AlertDetail.with_changes(alert, alerts.history(alert_id))


@router.post("/alerts/{alert_id}/changes", responses=_NOT_FOUND | _CONFLICT | _INVALID)
def change_alert(
    alert_id: str, body: AlertChangeCreate, alerts: AlertsDep, principal: DeciderDep
) -> AlertDetail:
    """Acknowledge, dismiss (with a reason), escalate or reopen (with a reason) an alert.

    Who made the change is the signed-in officer (``by`` in the body is kept only when
    authentication is switched off on a test bench).
    """
    ensure_alert(principal, alerts.get(alert_id))
    alert = alerts.change(alert_id, body.state, decided_by(principal, body.by), body.reason)
    return AlertDetail.with_changes(alert, alerts.history(alert_id))
