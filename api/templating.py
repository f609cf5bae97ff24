"""The pages' one Jinja2 environment: templates from the package, escaping always on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

if TYPE_CHECKING:
    from fastapi import Request

__all__ = ["render"]

_TEMPLATES = Environment(
    loader=PackageLoader("api", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,  # a missing value is a bug, not an empty cell
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:  # noqa: ANN401  # template values
    """A page from ``template`` with ``context`` (and the service's version, and who is in)."""
    user = getattr(request.state, "principal", None)
    body = _TEMPLATES.get_template(template).render(version=request.app.version, user=user,
                                                    **context)  # fmt: skip
    return HTMLResponse(body, status_code=status_code)
