"""Server-rendered pages for waste generators: their containers, registering one, its labels.

Chinese first, English beneath, as the officers' pages (``api/endpoints/officer_pages.py``).
Every page is for a generator account (``page_for(Role.GENERATOR)``); the generator is always
the account's own party, never what a form says. An administrator passes the role check but
acts for no party, so these pages tell them a generator account is needed. Writes (register,
mint, the A4 sheet) spend the account's write tokens as the JSON API's writes do.

Where a container is now comes from the ledger: its latest event in the order the devices
claim (the ledger index breaking ties), as on an officer's timeline.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from api.auth import page_for
from api.endpoints.deps import ContainersDep, IssuerDep, SessionDep
from api.forms import MAX_FORM_BYTES, read_form, read_form_lists
from api.problems import STATUS
from api.templating import render as _html
from custody.access import Principal, Role
from custody.containers import ContainerType, NewContainer, PhysicalForm
from custody.digital_id import parse_digital_id
from custody.errors import ContainerNotFound, CustodyError, InputError, RateLimited
from custody.history import Whereabouts, histories, whereabouts
from custody.wastes import WasteList
from labels import render
from storage.container_store import SqlContainerStore
from storage.facts_loader import load_records
from storage.registry_store import SqlRegistryStore

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from custody.containers import Container, Containers
    from custody.history import Record
    from labels.issuing import LabelIssuer

__all__ = ["Whereabouts", "router", "whereabouts"]

router = APIRouter(prefix="/generator", include_in_schema=False)

#: The generators' pages open for generator accounts (administrators pass, and are told).
GeneratorDep = Annotated[Principal, Depends(page_for(Role.GENERATOR))]
FormDep = Annotated[dict[str, str], Depends(read_form)]

_CHINA = timezone(timedelta(hours=8))  # generators read China Standard Time
_PAGE = 50
#: Containers looked at per list request: with a state filter most may not match.
_SCAN = 500
_BATCH = 100
#: Containers on one A4 request, as ``POST /labels/sheets`` allows.
_MAX_SHEET = 1000
_WASTE_NAME_SHOWN = 36

_E = TypeVar("_E", bound=enum.StrEnum)

_FORMS_ZH = {
    PhysicalForm.SOLID: "固态",
    PhysicalForm.SEMI_SOLID: "半固态",
    PhysicalForm.LIQUID: "液态",
    PhysicalForm.GAS: "气态（容器盛装）",
}


# -- shared pieces ------------------------------------------------------------------------------


def _local(when: datetime) -> str:
    return f"{when.astimezone(_CHINA):%Y-%m-%d %H:%M}"


def _kg(grams: int) -> str:
    return f"{grams / 1000:,.3f}".rstrip("0").rstrip(".")


def _url(digital_id: str) -> str:
    return f"/generator/containers/{quote(digital_id, safe='')}"


def _status_of(exc: CustodyError) -> int:
    """The HTTP status the JSON API gives the same error (``api.problems.STATUS``)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def _error_page(request: Request, status_code: int, error: CustodyError) -> HTMLResponse:
    return _html(request, "generator_error.html", status_code, error=error)


def _needs_generator(request: Request) -> HTMLResponse:
    """An account that passes the role check but acts for no company (an administrator)."""
    error = InputError(
        "these pages are for a waste generator's account; this account acts for no generator",
        zh="此页面供产废单位账户使用；当前账户未绑定产废单位",
    )
    return _html(request, "generator_error.html", 403, error=error)


def _spend(request: Request, principal: Principal) -> HTMLResponse | None:
    """Take one of the account's write tokens; a page saying to wait when none is left."""
    wait = request.app.state.write_limiter.take(principal.name)
    if wait is None:
        return None
    error = RateLimited(f"too many writes; try again in {wait:.0f} s",
                        zh=f"写入过于频繁，请 {max(1, round(wait))} 秒后重试")  # fmt: skip
    response = _error_page(request, 429, error)
    response.headers["Retry-After"] = str(max(1, round(wait)))
    return response


def _latest(engine: Engine, codes: Collection[str]) -> dict[str, Record]:
    """Each container's latest ledger event (through the ledger's container index)."""
    if not codes:
        return {}
    found = histories(load_records(engine, codes))
    return {code: found[code].records[-1] for code in codes if code in found}


def _names(session: Session, parties: Collection[str]) -> dict[str, str]:
    """Registered names of parties; a party not registered keeps its credit code."""
    registry = SqlRegistryStore(session)
    names = {}
    for code in sorted(set(parties)):
        party = registry.get_party(code)
        names[code] = party.name if party is not None else code
    return names


def _event_row(record: Record, names: Mapping[str, str]) -> dict[str, Any]:
    e = record.event
    return {
        "step": e.step.value,
        "step_zh": e.step.zh,
        "when": _local(e.event_time),
        "party": e.party,
        "party_name": names.get(e.party, e.party),
        "vehicle": e.vehicle,
        "read_point": e.read_point,
        "mass_kg": _kg(e.mass.grams) if e.mass else None,
        "index": record.index,
    }


def _own_or_page(
    request: Request, principal: Principal, containers: Containers, digital_id: str
) -> Container | HTMLResponse:
    """The account's own container in the path, or the page saying why there is none."""
    if principal.party is None:
        return _needs_generator(request)
    try:
        return _own(containers, principal.party, digital_id)
    except ContainerNotFound as exc:
        return _error_page(request, 404, exc)


def _own(containers: Containers, party: str, digital_id: str) -> Container:
    """The account's own container, else ``ContainerNotFound``.

    Another generator's, an unknown and a malformed code are the same "not found", so a page
    never tells whether someone else registered a code.
    """
    try:
        container = containers.get(parse_digital_id(digital_id).text)
    except (ContainerNotFound, InputError):
        container = None
    if container is None or container.facts.generator != party:
        raise ContainerNotFound(f"no container {digital_id!r}", zh="未找到该容器",
                                digital_id=digital_id)  # fmt: skip
    return container


# -- the list -----------------------------------------------------------------------------------

_Text = Annotated[str, Query(max_length=64)]


def _state_filter(text: str) -> Whereabouts | None:
    if not text:
        return None
    try:
        return Whereabouts(text)
    except ValueError:
        raise InputError(f"unknown state {text!r}", zh="状态无效") from None


def _scan(
    request: Request, session: Session, party: str, wanted: Whereabouts | None, cursor: str | None
) -> tuple[list[tuple[Container, Record | None]], str | None]:
    """The page's containers with their latest events, and the cursor of the next page.

    Walks the generator's containers newest first, a batch at a time, until a page matches
    or ``_SCAN`` containers were looked at; the state is not stored, so it is worked out here.
    """
    store = SqlContainerStore(session)
    shown: list[tuple[Container, Record | None]] = []
    seen, after = 0, cursor
    size = _PAGE if wanted is None else _BATCH  # unfiltered, a page is what is shown
    while seen < _SCAN:
        batch = store.containers_of(party, limit=size, after=after)
        latest = _latest(request.app.state.engine, [c.digital_id.text for c in batch])
        for container in batch:
            code = container.digital_id.text
            seen, after = seen + 1, code
            record = latest.get(code)
            if wanted is None or whereabouts(record, party) is wanted:
                shown.append((container, record))
                if len(shown) == _PAGE:
                    more = store.containers_of(party, limit=1, after=code)
                    return shown, code if more else None
        if len(batch) < size:
            return shown, None
    return shown, after


@router.get("", response_class=HTMLResponse)
def container_list(
    request: Request,
    principal: GeneratorDep,
    session: SessionDep,
    state: _Text = "",
    cursor: _Text = "",
) -> HTMLResponse:
    """The generator's containers, newest first, with where each is now."""
    if principal.party is None:
        return _needs_generator(request)
    party, state = principal.party, state.strip()
    context: dict[str, Any] = {
        "state": state,
        "states": [{"value": s.value, "zh": s.zh} for s in Whereabouts],
        "rows": [],
        "next_url": None,
    }
    try:
        wanted = _state_filter(state)
        found, next_cursor = _scan(request, session, party, wanted, cursor.strip() or None)
    except InputError as exc:
        return _html(request, "generator_containers.html", 422, error=exc, **context)
    codes = [c.digital_id.text for c, _ in found]
    labelled = SqlContainerStore(session).labelled(codes)
    names = _names(session, {r.event.party for _, r in found if r is not None})
    context["rows"] = [
        {
            "id": c.digital_id.text,
            "url": _url(c.digital_id.text),
            "waste_code": c.digital_id.waste_code,
            "waste_name": _short(c.waste_name),
            "mass_kg": _kg(c.facts.declared_net_mass_g),
            "labelled": c.digital_id.text in labelled,
            "where": whereabouts(r, party),
            "latest": _event_row(r, names) if r is not None else None,
        }
        for c, r in found
    ]
    if next_cursor is not None:
        query = {"state": state} if state else {}
        context["next_url"] = f"/generator?{urlencode(query | {'cursor': next_cursor})}"
    return _html(request, "generator_containers.html", error=None, **context)


def _short(text: str) -> str:
    return text if len(text) <= _WASTE_NAME_SHOWN else text[: _WASTE_NAME_SHOWN - 1] + "…"


# -- registering a container --------------------------------------------------------------------


def _choices(request: Request) -> dict[str, Any]:
    edition = request.app.state.settings.waste_list_edition
    return {
        "wastes": [
            {"code": w.code, "category": w.category, "name": _short(w.description)}
            for w in WasteList.edition(edition)
        ],
        "forms": [{"value": f.value, "zh": _FORMS_ZH[f]} for f in PhysicalForm],
        "types": [{"value": t.value, "zh": t.zh} for t in ContainerType],
    }


def _today() -> str:
    return f"{datetime.now(_CHINA):%Y-%m-%d}"


def _number(text: str, zh: str, field: str) -> float:
    try:
        value = float(text.strip().replace(",", ""))
    except ValueError:
        raise InputError(f"{field} must be a number, not {text!r}",
                         zh=f"{zh}须为数字", field=field) from None  # fmt: skip
    return value


def _choice(kind: type[_E], text: str, zh: str, field: str) -> _E:
    try:
        return kind(text.strip())
    except ValueError:
        raise InputError(f"{field} {text!r} is not one of {', '.join(kind)}",
                         zh=f"{zh}取值无效", field=field) from None  # fmt: skip


def _new_container(form: Mapping[str, str], generator: str) -> NewContainer:
    """The container the form declares, for the signed-in account's own generator."""
    try:
        day = date.fromisoformat(form.get("generated_on", "").strip())
    except ValueError:
        raise InputError(
            "the generation date must read YYYY-MM-DD",
            zh="产生日期格式应为 年-月-日",
            field="generated_on",
        ) from None
    capacity = _number(form.get("capacity_l", ""), "容积", "capacity_l")
    mass = _number(form.get("declared_net_mass_kg", ""), "申报净重", "declared_net_mass_kg")
    if not 0 < mass <= 100_000:  # 100 t, as the JSON API allows
        raise InputError("declared net mass must be above 0 and at most 100000 kg",
                         zh="申报净重须大于 0 且不超过 100000 千克",
                         field="declared_net_mass_kg")  # fmt: skip
    text = {name: form.get(name, "") for name in ("seal_no", "waste_name", "main_components",
            "harmful_components", "precautions", "contact", "remarks")}  # fmt: skip
    return NewContainer(
        generator=generator,
        waste_code=form.get("waste_code", ""),
        generated_on=day,
        form=_choice(PhysicalForm, form.get("form", ""), "形态", "form"),
        container_type=_choice(
            ContainerType, form.get("container_type", ""), "容器类型", "container_type"
        ),
        capacity_l=capacity,
        declared_net_mass_g=round(mass * 1000),
        **text,
    )


#: The register form's fields, as the page shows them again after a refusal.
_FIELDS = ("waste_code", "waste_name", "form", "container_type", "capacity_l",
           "declared_net_mass_kg", "generated_on", "seal_no", "main_components",
           "harmful_components", "precautions", "contact", "remarks")  # fmt: skip


def _form_page(
    request: Request, status_code: int, form: Mapping[str, str], error: CustodyError | None
) -> HTMLResponse:
    values = dict.fromkeys(_FIELDS, "") | {
        "generated_on": _today(),
        "form": PhysicalForm.LIQUID.value,
        "container_type": ContainerType.DRUM.value,
    }
    values |= {k: v for k, v in form.items() if k in _FIELDS}  # fmt: skip
    return _html(request, "generator_new.html", status_code, form=values, error=error,
                 **_choices(request))  # fmt: skip


@router.get("/containers/new", response_class=HTMLResponse)
def new_container_form(request: Request, principal: GeneratorDep) -> HTMLResponse:
    """The form to register a filled, sealed container."""
    if principal.party is None:
        return _needs_generator(request)
    return _form_page(request, 200, {}, None)


@router.post("/containers", response_class=HTMLResponse)
def register_container(
    request: Request, principal: GeneratorDep, containers: ContainersDep, form: FormDep
) -> Response:
    """Register the container for the account's own generator, then open its page (303).

    Bad input shows the form again with the reason (422; 404 when the generator is not
    registered, 409 when numbering keeps colliding).
    """
    if principal.party is None:
        return _needs_generator(request)
    if (refused := _spend(request, principal)) is not None:
        return refused
    try:
        container = containers.register(_new_container(form, principal.party))
    except CustodyError as exc:
        return _form_page(request, _status_of(exc), form, exc)
    return RedirectResponse(_url(container.digital_id.text), status_code=303)


# -- one container ------------------------------------------------------------------------------


def _container_page(  # noqa: PLR0913  # the page's parts, then how it answers
    request: Request,
    session: Session,
    issuer: LabelIssuer,
    container: Container,
    *,
    status_code: int = 200,
    error: CustodyError | None = None,
) -> HTMLResponse:
    code = container.digital_id.text
    history = histories(load_records(request.app.state.engine, [code])).get(code)
    records = history.records if history else []
    names = _names(session, {container.facts.generator, *(r.event.party for r in records)})
    labels = SqlContainerStore(session).labels_of(code)
    newest = labels[-1] if labels else None
    svg, label_error = None, None
    if newest is not None:
        try:
            drawn = render.render_svg(issuer.printed_for(container, newest))
            # Our renderer's own SVG, its text escaped: safe to put in the page as it is.
            svg = Markup(drawn.split("?>", 1)[-1].strip())  # noqa: S704
        except CustodyError as exc:
            label_error = exc
    facts, waste = container.facts, container.waste
    latest = records[-1] if records else None
    return _html(
        request,
        "generator_container.html",
        status_code,
        c={
            "id": code,
            "url": _url(code),
            "generator": facts.generator,
            "generator_name": names.get(facts.generator, facts.generator),
            "waste_code": waste.code,
            "category": waste.category,
            "category_name": waste.category_name,
            "waste_name": container.waste_name,
            "hazards": [h.zh for h in waste.hazards],
            "form": facts.form.value,
            "form_zh": _FORMS_ZH[facts.form],
            "container_type": facts.container_type.value,
            "container_type_zh": facts.container_type.zh,
            "capacity_l": f"{facts.capacity_l:g}",
            "mass_kg": _kg(facts.declared_net_mass_g),
            "generated_on": f"{container.digital_id.day:%Y-%m-%d}",
            "seal_no": facts.seal_no,
        },
        where=whereabouts(latest, facts.generator),
        events=[_event_row(r, names) for r in records],
        label={"key": newest.key_name, "issued_at": _local(newest.issued_at), "count": len(labels)}
        if newest
        else None,
        label_svg=svg,
        label_error=label_error,
        error=error,
    )


@router.get("/containers/{digital_id}", response_class=HTMLResponse)
def container_page(  # noqa: PLR0913, PLR0917  # FastAPI passes each dependency
    digital_id: str,
    request: Request,
    principal: GeneratorDep,
    session: SessionDep,
    containers: ContainersDep,
    issuer: IssuerDep,
) -> HTMLResponse:
    """One container: its facts, its custody timeline, its newest label and how to print it."""
    container = _own_or_page(request, principal, containers, digital_id)
    if isinstance(container, HTMLResponse):
        return container
    return _container_page(request, session, issuer, container)


@router.post("/containers/{digital_id}/labels", response_class=HTMLResponse)
def mint_label(  # noqa: PLR0913, PLR0917  # FastAPI passes each dependency
    digital_id: str,
    request: Request,
    principal: GeneratorDep,
    session: SessionDep,
    containers: ContainersDep,
    issuer: IssuerDep,
) -> Response:
    """Sign a new label with the generator's label key, then back to the container (303).

    No usable key shows the container page with the reason (409).
    """
    container = _own_or_page(request, principal, containers, digital_id)
    if isinstance(container, HTMLResponse):
        return container
    if (refused := _spend(request, principal)) is not None:
        return refused
    try:
        issuer.issue(container.digital_id.text)
    except CustodyError as exc:
        status = _status_of(exc)
        return _container_page(request, session, issuer, container, status_code=status, error=exc)
    return RedirectResponse(f"{_url(container.digital_id.text)}#label", status_code=303)


# -- the A4 sheet -------------------------------------------------------------------------------


async def _chosen(request: Request) -> list[str]:
    """Every ``container`` field of the form (a checkbox per container, or one hidden field)."""
    fields = await read_form_lists(request, max_bytes=MAX_FORM_BYTES * 4)  # ~a thousand codes
    return list(dict.fromkeys(v.strip() for v in fields.get("container", []) if v.strip()))


@router.post("/labels/sheet", response_class=Response)
def label_sheet(
    request: Request,
    principal: GeneratorDep,
    containers: ContainersDep,
    issuer: IssuerDep,
    chosen: Annotated[list[str], Depends(_chosen)],
) -> Response:
    """The newest labels of the chosen containers on A4 sheets (a PDF to download).

    Nothing chosen or too many is 422; another generator's container 404; a container with
    no label yet 404, as ``POST /labels/sheets`` answers.
    """
    if principal.party is None:
        return _needs_generator(request)
    if not 1 <= len(chosen) <= _MAX_SHEET:
        error = InputError(f"choose 1 to {_MAX_SHEET} containers to print",
                           zh=f"请选择 1 至 {_MAX_SHEET} 个容器打印")  # fmt: skip
        return _error_page(request, 422, error)
    if (refused := _spend(request, principal)) is not None:
        return refused
    try:
        printed = [
            issuer.printed_for(container, issuer.latest(container.digital_id.text))
            for container in (_own(containers, principal.party, code) for code in chosen)
        ]
        sheet = render.render_pdf_sheet(printed)
    except CustodyError as exc:
        return _error_page(request, _status_of(exc), exc)
    name = f"labels-A4-{datetime.now(_CHINA):%Y%m%d-%H%M%S}.pdf"
    return Response(sheet, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
