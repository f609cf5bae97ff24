"""How the audit cuts its reads into pieces: everything once, in order, smaller at the end."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from custody.audit import _SMALLEST, _tapered


def _chunks(size: int, chunk: int) -> list[list[tuple[int, bytes, bytes]]]:
    return [
        [(i, b"", b"") for i in range(start, min(size, start + chunk))]
        for start in range(0, size, chunk)
    ]


@given(size=st.integers(0, 5000), chunk=st.integers(1, 600), processes=st.integers(2, 8))
def test_every_entry_comes_once_in_order_in_pieces_no_longer_than_their_share(
    size: int, chunk: int, processes: int
) -> None:
    pieces = list(_tapered(_chunks(size, chunk), size, processes))
    assert [i for piece in pieces for i, _, _ in piece] == list(range(size))
    for piece in pieces:
        left = size - piece[0][0]
        assert 0 < len(piece) <= max(_SMALLEST, left // (2 * processes))


def test_whole_chunks_until_the_end_then_small_pieces() -> None:
    pieces = list(_tapered(_chunks(10_000, 250), 10_000, 2))
    assert [len(piece) for piece in pieces[:36]] == [250] * 36
    last = [piece for piece in pieces if piece[0][0] >= 10_000 - 100]
    assert len(last) >= 4
    assert all(len(piece) <= _SMALLEST for piece in last)
