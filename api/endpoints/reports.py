"""Evidence reports over HTTP: an alert's PDF report, its evidence bundles attached."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from api.auth import allow
from api.endpoints.deps import KeyringDep
from api.report import alert_report
from api.scope import ensure_alert
from custody.access import OFFICER_ROLES, PARTY_ROLES, Principal
from custody.alerts import Alerts
from storage.alert_store import SqlAlertStore

router = APIRouter(tags=["alerts"])


@router.get(
    "/alerts/{alert_id}/report.pdf",
    responses={
        200: {"content": {"application/pdf": {}}, "description": "证据报告 · The PDF report"},
        404: {"description": "无此告警 · No alert with that id (problem details)"},
    },
    response_class=Response,
)
def alert_report_pdf(
    alert_id: str,
    request: Request,
    keyring: KeyringDep,
    principal: Annotated[Principal, Depends(allow(*PARTY_ROLES, *OFFICER_ROLES))],
) -> Response:
    """告警证据报告 · The alert's evidence report for people, as PDF.

    The alert, its containers' custody timelines, the checkpoint sightings, the map and how to
    verify: the SHA-256 it cites are of the evidence bundles attached to the PDF.
    """
    ensure_alert(principal, Alerts(SqlAlertStore(request.app.state.engine)).get(alert_id))
    pdf = alert_report(request.app.state.engine, alert_id,
                       origin=request.app.state.settings.log_origin, keyring=keyring)  # fmt: skip
    name = f'attachment; filename="report-{alert_id}.pdf"'
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": name})
