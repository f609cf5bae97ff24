"""Logging in on the pages: a password gives a session token carried in an HttpOnly cookie.

The cookie is ``SameSite=Lax`` (and ``Secure`` over HTTPS), so other sites cannot post forms
with it; writes carried by it must also come from our own origin (``api.auth``). Attempts are
limited per account name, so a password cannot be guessed at speed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import SESSION_COOKIE, Access, LoginRequired, PageForbidden
from api.endpoints.deps import SessionDep  # FastAPI reads it at runtime
from api.forms import read_form
from api.templating import render
from custody.credentials import parse_token
from custody.errors import NotAuthenticated, RateLimited
from storage.access_store import SqlAccessStore

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["install", "router"]

router = APIRouter(include_in_schema=False)


def _back_to(text: str | None) -> str:
    """Only a path on this site: a login must not bounce anyone elsewhere."""
    if text and text.startswith("/") and not text.startswith("//") and "\\" not in text:
        return text
    return "/officer/alerts"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "") -> HTMLResponse:  # noqa: A002  # the URL's name
    """The login form."""
    return render(request, "login.html", back_to=_back_to(next), name="", error=None)


@router.post("/login", response_class=HTMLResponse)
def log_in(
    request: Request,
    session: SessionDep,
    form: Annotated[dict[str, str], Depends(read_form)],
) -> Response:
    """Check the password; on success set the session cookie and go back (303)."""
    name, back_to = form.get("name", "").strip(), _back_to(form.get("next"))
    settings = request.app.state.settings
    wait = request.app.state.login_limiter.take(f"login:{name}")
    if wait is not None:
        error = RateLimited("too many attempts; wait a minute", zh="尝试次数过多，请稍后再试")
        return render(request, "login.html", 429, back_to=back_to, name=name, error=error)
    try:
        text = Access(SqlAccessStore(session)).login(
            name, form.get("password", ""), hours=settings.session_hours
        )
    except NotAuthenticated as exc:
        return render(request, "login.html", 401, back_to=back_to, name=name, error=exc)
    response = RedirectResponse(back_to, status_code=303)
    response.set_cookie(SESSION_COOKIE, text, max_age=int(settings.session_hours * 3600),
                        httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")  # fmt: skip
    return response


@router.post("/logout")
def log_out(request: Request, session: SessionDep) -> Response:
    """End the login: the session token is revoked, not only forgotten by the browser."""
    text = request.cookies.get(SESSION_COOKIE)
    if text:
        access = Access(SqlAccessStore(session))
        try:
            access.authenticate(text)  # only a live login of one's own is revoked
            access.revoke(parse_token(text)[0])
        except NotAuthenticated:
            pass  # expired, revoked already, or not ours: nothing to end
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def install(app: FastAPI) -> None:
    """Pages answer a missing login with the login page and a refusal with a page."""

    async def login_required(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)  # noqa: S101  # registered for this class only
        return RedirectResponse(f"/login?next={quote(exc.back_to, safe='')}", status_code=303)

    async def page_forbidden(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageForbidden)  # noqa: S101  # registered for this class only
        return render(request, "denied.html", 403, who=exc.principal)

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(PageForbidden, page_forbidden)
