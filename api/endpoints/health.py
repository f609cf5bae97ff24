"""Liveness and the explanation pages behind problem types."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from api.endpoints.deps import SessionDep
from api.problems import STATUS
from custody.errors import NotFoundError

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The service answers and its database too."""

    status: str
    database: str


class ProblemType(BaseModel):
    """What a problem type means."""

    code: str
    status: int
    title: str
    title_zh: str
    description: str


@router.get("/healthz")
def healthz(session: SessionDep) -> Health:
    """Answer when the service and its database are up."""
    session.exec(text("SELECT 1"))  # type: ignore[call-overload]  # plain SQL ping
    return Health(status="ok", database=session.get_bind().dialect.name)


@router.get("/problems", tags=["problems"])
def problem_types() -> list[ProblemType]:
    """Every problem type this API returns, with its status."""
    return [
        ProblemType(
            code=cls.code,
            status=status,
            title=cls.title,
            title_zh=cls.title_zh,
            description=(cls.__doc__ or "").strip().splitlines()[0],
        )
        for cls, status in STATUS.items()
    ]


@router.get("/problems/{code}", tags=["problems"])
def problem_type(code: str) -> ProblemType:
    """What one problem type means (the ``type`` URI of a problem resolves here)."""
    for problem in problem_types():
        if problem.code == code:
            return problem
    raise NotFoundError(f"no problem type {code!r}", zh=f"没有问题类型“{code}”", code=code)
