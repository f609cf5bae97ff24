"""Getting the log's latest checkpoint cosigned by a witness (the log's side of tlog-witness).

``submit`` sends one add-checkpoint request body and returns the cosignature line(s), or
raises ``ConflictError`` with the witness's current size in ``context["size"]`` when the
witness has seen another size than the one we claimed: we then retry once from that size.
The cosignature lines are appended to the stored checkpoint note, which stays a valid signed
note: every verifier ignores signatures by keys it does not know.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from custody.checkpoint import Checkpoint, open_note
from custody.errors import ConflictError
from custody.witness import AddCheckpointRequest

if TYPE_CHECKING:
    from collections.abc import Callable

    from custody.ledger import Ledger

__all__ = ["cosign_latest"]


def cosign_latest(
    ledger: Ledger, submit: Callable[[bytes], bytes], witnessed_size: int = 0
) -> bytes:
    """Have the latest checkpoint cosigned; return the note with the cosignature added.

    ``witnessed_size`` is the size this witness last cosigned, if known (0 otherwise).
    """
    note = ledger.latest_checkpoint()
    body, _ = open_note(note, [ledger.verifier])
    size = Checkpoint.parse_body(body).size
    old = min(witnessed_size, size)
    for attempt in range(2):
        request = AddCheckpointRequest(old, tuple(ledger.consistency(old, size)), note)
        try:
            lines = submit(request.to_bytes())
        except ConflictError as exc:
            current = exc.context.get("size")
            if attempt or not isinstance(current, int) or not 0 <= current <= size:
                raise
            old = current
            continue
        return ledger.store.add_cosignatures(size, lines)
    raise AssertionError("unreachable")  # pragma: no cover  # the loop returns or raises
