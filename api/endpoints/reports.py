"""Evidence reports over HTTP: an alert's PDF report, its evidence bundles attached."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.endpoints.deps import KeyringDep
from api.report import alert_report

router = APIRouter(tags=["alerts"])


@router.get(
    "/alerts/{alert_id}/report.pdf",
    responses={
        200: {"content": {"application/pdf": {}}, "description": "证据报告 · The PDF report"},
        404: {"description": "无此告警 · No alert with that id (problem details)"},
    },
    response_class=Response,
)
def alert_report_pdf(alert_id: str, request: Request, keyring: KeyringDep) -> Response:
    """告警证据报告 · The alert's evidence report for people, as PDF.

    The alert, its containers' custody timelines, the checkpoint sightings, the map and how to
    verify: the SHA-256 it cites are of the evidence bundles attached to the PDF.
    """
    pdf = alert_report(request.app.state.engine, alert_id,
                       origin=request.app.state.settings.log_origin, keyring=keyring)  # fmt: skip
    name = f'attachment; filename="report-{alert_id}.pdf"'
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": name})
