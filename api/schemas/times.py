"""Instants the service can store: time-zone aware and still a datetime once in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

__all__ = ["Instant"]


def _representable_in_utc(when: datetime) -> datetime:
    # 0001-01-01T00:00+01:00 is valid ISO 8601 but before datetime.min in UTC: the stores'
    # conversion overflowed into a 503. A ValueError here makes it a 422 instead.
    try:
        when.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range once converted to UTC") from None
    return when


Instant = Annotated[AwareDatetime, AfterValidator(_representable_in_utc)]
"""An aware datetime between 0001-01-01 and 9999-12-31 in UTC too."""
