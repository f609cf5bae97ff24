"""Cursor pages over a listing built in memory: where the page after a cursor starts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from custody.errors import RecordInvalid

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["start_after"]


def start_after(ids: Sequence[str], cursor: str | None) -> int:
    """Where the page after ``cursor`` (the last id of the page before) starts in ``ids``."""
    if cursor is None:
        return 0
    try:
        return ids.index(cursor) + 1
    except ValueError:
        raise RecordInvalid(
            f"the page cursor {cursor!r} is not in this listing",
            zh="分页游标无效：不在本次查询结果中",
            field="cursor",
        ) from None
