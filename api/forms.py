"""Reading the pages' HTML forms: url-encoded bodies, first value of each field.

Read with ``urllib.parse`` because ``python-multipart`` is not a dependency (our forms carry
no files).
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request  # noqa: TC002  # FastAPI reads the annotation at run time

__all__ = ["MAX_FORM_BYTES", "read_form", "read_form_lists"]

#: Far more than any of our forms needs; a longer body reads as empty and is refused.
MAX_FORM_BYTES = 16_384


async def read_form(request: Request) -> dict[str, str]:
    """A url-encoded form's fields, first value each."""
    fields = await read_form_lists(request)
    return {k: v[0] for k, v in fields.items() if v}


async def read_form_lists(
    request: Request, max_bytes: int = MAX_FORM_BYTES
) -> dict[str, list[str]]:
    """A url-encoded form's fields with every value (repeated checkboxes)."""
    body = await request.body()
    if len(body) > max_bytes:
        body = b""
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
