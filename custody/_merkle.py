"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification.

The conventions are exactly those of Certificate Transparency and C2SP ``tlog-*``::

    H            = SHA-256
    empty root   = H("")
    leaf hash    = H(0x00 || entry)
    node hash    = H(0x01 || left || right)
    MTH(D[n])    = H(0x01 || MTH(D[0:k]) || MTH(D[k:n])), k the largest power of two < n

Everything here works on leaf *hashes* held by the caller; nothing reads a store. Proof
generators take the whole list of leaf hashes and cost O(n); the verifiers follow RFC 9162
sections 2.1.3.2 and 2.1.4.2 step by step, after first rejecting any proof whose length is not
the one the tree shape dictates (the ``inner + border`` count of ``transparency-dev/merkle``).

Verifiers raise ``ProofError`` (a ``ValueError``) saying what is wrong; callers in the core
turn it into a ``CustodyError``. ``CompactRange`` keeps the O(log n) state a log needs to
append leaves and compute its root without re-reading the tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "ProofError",
    "SubtreeFn",
    "consistency_proof",
    "consistency_proof_by",
    "inclusion_proof",
    "inclusion_proof_by",
    "inclusion_proofs_from",
    "leaf_hash",
    "new_subtrees",
    "node_hash",
    "range_hash",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class ProofError(ValueError):
    """A Merkle proof does not prove what it claims; callers wrap it in their error."""


def leaf_hash(entry: bytes) -> bytes:
    """The RFC 6962 hash of one log entry: ``SHA-256(0x00 || entry)``."""
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 6962 hash of an interior node: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _fold_peaks(peaks: Sequence[bytes]) -> bytes:
    """Combine perfect-subtree roots (largest first) into the tree root, right to left."""
    if not peaks:
        return EMPTY_ROOT
    root = peaks[-1]
    for peak in reversed(peaks[:-1]):
        root = node_hash(peak, root)
    return root


def _push(peaks: list[bytes], size: int, node: bytes) -> None:
    """Append leaf ``node`` to the perfect-subtree roots of a tree of ``size`` leaves."""
    while size & 1:  # each trailing one bit is a subtree of the new leaf's height: merge it
        node = node_hash(peaks.pop(), node)
        size >>= 1
    peaks.append(node)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """The tree head MTH over ``hashes``, in O(n) hashing and O(log n) memory."""
    peaks: list[bytes] = []
    for size, node in enumerate(hashes):
        _push(peaks, size, node)
    return _fold_peaks(peaks)


def _next_level(level: Sequence[bytes]) -> list[bytes]:
    """The level above: pairs hashed, an odd last node carried up unchanged.

    Element ``j`` of level ``L`` is then ``MTH`` of leaves ``[j * 2**L, min((j + 1) * 2**L, n))``,
    which is exactly the subtree RFC 6962's split produces, so sibling look-ups need no recursion.
    """
    upper = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        upper.append(level[-1])
    return upper


def _path(level: Sequence[bytes], index: int) -> list[bytes]:
    """Siblings of node ``index`` of ``level`` on the way to the root, lowest first."""
    path: list[bytes] = []
    nodes = list(level)
    while len(nodes) > 1:
        sibling = index ^ 1
        if sibling < len(nodes):
            path.append(nodes[sibling])
        index >>= 1
        nodes = _next_level(nodes)
    return path


def inclusion_proof(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 9162 section 2.1.3.1 ``PATH(index, D[n])`` for the tree over ``hashes``.

    Raises ``ValueError`` (not ``ProofError``) when ``index`` is not a leaf of the tree: that is
    a bad request, not bad evidence.
    """
    if not 0 <= index < len(hashes):
        raise ValueError(f"leaf index {index} is not in a tree of size {len(hashes)}")
    return _path(hashes, index)


def consistency_proof(hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """RFC 9162 section 2.1.4.1 ``PROOF(old_size, D[n])`` for the tree over ``hashes``.

    The proof from the empty tree, and from a tree to itself, is empty. Raises ``ValueError``
    when ``old_size`` is negative or larger than the tree.
    """
    new_size = len(hashes)
    if not 0 <= old_size <= new_size:
        raise ValueError(f"old size {old_size} is not between 0 and the tree size {new_size}")
    if old_size in {0, new_size}:
        return []
    # The largest perfect subtree ending at old_size: its root, unless it is the whole old tree
    # (the verifier has that as the old root), then its inclusion path in the new tree.
    level = (old_size & -old_size).bit_length() - 1
    index = (old_size - 1) >> level
    nodes = list(hashes)
    for _ in range(level):
        nodes = _next_level(nodes)
    path = _path(nodes, index)
    return path if index == 0 else [nodes[index], *path]


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} has {len(value)} bytes, a SHA-256 hash has {HASH_SIZE}")


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    for position, node in enumerate(proof):
        _check_hash(node, f"proof hash {position}")


def _inclusion_length(index: int, size: int) -> tuple[int, int]:
    """Split an inclusion proof's length into ``(inner, border)`` counts.

    ``inner`` hashes lie below the node where the paths to ``index`` and ``size - 1`` meet,
    ``border`` hashes on the right border above it. Their sum is the only valid proof length.
    """
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _chain_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2 steps 2-5: the root ``proof`` leads ``leaf`` to."""
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the path to the root")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves with ``root``.

    Returns ``None``; raises ``ProofError`` on an index outside the tree, a hash of the wrong
    length, a proof of the wrong length, or a proof that does not lead to ``root``.
    """
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is out of range for a tree of size {size}")
    _check_hash(leaf_hash, "leaf hash")
    _check_hash(root, "root hash")
    _check_proof_hashes(proof)
    inner, border = _inclusion_length(index, size)
    if len(proof) != inner + border:
        raise ProofError(
            f"inclusion proof for leaf {index} of {size} has {len(proof)} hashes, "
            f"expected {inner + border}"
        )
    if _chain_inclusion(leaf_hash, index, size, proof) != root:
        raise ProofError(f"inclusion proof for leaf {index} of {size} does not match the root")


def _consistency_length(old_size: int, new_size: int) -> int:
    """The only valid length of a proof for ``0 < old_size < new_size``."""
    inner, border = _inclusion_length(old_size - 1, new_size)
    shift = (old_size & -old_size).bit_length() - 1  # trailing zero bits of old_size
    seed = 0 if old_size == 1 << shift else 1  # the old subtree root, unless it is the old root
    return seed + inner - shift + border


def _chain_consistency(
    old_size: int, new_size: int, old_root: bytes, proof: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """RFC 9162 section 2.1.4.2 steps 1-6: the old and new roots ``proof`` leads to."""
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than the path to the root")
    return fr, sr


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``new_size`` with ``new_root`` extends the one of ``old_size``.

    Equal sizes need an empty proof and equal roots. RFC 9162 defines proofs only for
    ``0 < old_size``; the empty tree is a prefix of every tree, so from size 0 the proof must be
    empty and ``old_root`` must be the empty root. Returns ``None``; raises ``ProofError``.
    """
    if not 0 <= old_size <= new_size:
        raise ProofError(f"old size {old_size} is not between 0 and the new size {new_size}")
    _check_hash(old_root, "old root")
    _check_hash(new_root, "new root")
    _check_proof_hashes(proof)
    if old_size in {0, new_size}:
        if proof:
            raise ProofError(
                f"consistency proof from size {old_size} to {new_size} must be empty, "
                f"it has {len(proof)} hashes"
            )
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise ProofError("the old root of an empty tree must be the empty root")
        if old_size == new_size and old_root != new_root:
            raise ProofError(f"two different roots for the same tree size {old_size}")
        return
    expected = _consistency_length(old_size, new_size)
    if len(proof) != expected:
        raise ProofError(
            f"consistency proof from size {old_size} to {new_size} has {len(proof)} hashes, "
            f"expected {expected}"
        )
    fr, sr = _chain_consistency(old_size, new_size, old_root, proof)
    if fr != old_root:
        raise ProofError(f"consistency proof does not match the old root at size {old_size}")
    if sr != new_root:
        raise ProofError(f"consistency proof does not match the new root at size {new_size}")


class CompactRange:
    """The roots of the perfect subtrees covering a log's leaves: O(log n) state for appends.

    ``peaks`` run from the largest subtree (leftmost) to the smallest; there is one per set bit of
    ``size``. ``to_list()`` and ``from_list()`` let a log persist the state between appends.
    """

    __slots__ = ("_peaks", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._peaks: list[bytes] = []

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash (not the entry: hash it with ``leaf_hash()`` first)."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"a leaf hash has {HASH_SIZE} bytes, got {len(leaf_hash)}")
        _push(self._peaks, self._size, leaf_hash)
        self._size += 1

    def root(self) -> bytes:
        """The tree head over every leaf appended so far (``EMPTY_ROOT`` when there are none)."""
        return _fold_peaks(self._peaks)

    def to_list(self) -> list[bytes]:
        """The peaks, largest subtree first; persist them with ``size``."""
        return list(self._peaks)

    @classmethod
    def from_list(cls, size: int, peaks: Sequence[bytes]) -> CompactRange:
        """Rebuild the state saved by ``to_list()``; raise ``ValueError`` if it cannot be one."""
        if size < 0:
            raise ValueError(f"a tree size cannot be negative, got {size}")
        if len(peaks) != size.bit_count():
            raise ValueError(
                f"a tree of size {size} has {size.bit_count()} perfect subtrees, got {len(peaks)}"
            )
        if any(len(peak) != HASH_SIZE for peak in peaks):
            raise ValueError(f"every subtree root has {HASH_SIZE} bytes")
        state = cls()
        state._size = size
        state._peaks = list(peaks)
        return state

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._peaks == other._peaks

    __hash__ = None  # type: ignore[assignment]  # mutable, so unhashable like list

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"


# --- proofs over a store: subtree hashes fetched by range ---------------------------------------

#: ``subtree(lo, hi)`` returns the hash of the perfect subtree over leaves ``lo..hi-1``, where
#: ``hi - lo`` is a power of two and ``lo`` a multiple of it: exactly the nodes a log stores.
SubtreeFn = Callable[[int, int], bytes]


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def range_hash(
    lo: int, hi: int, subtree: SubtreeFn, memo: dict[tuple[int, int], bytes] | None = None
) -> bytes:
    """MTH of leaves ``lo..hi-1`` from perfect subtrees (RFC 6962 splits keep them aligned).

    ``memo`` keeps ragged right-border hashes between calls: proofs for neighbouring leaves
    of one tree share them.
    """
    n = hi - lo
    if n & (n - 1) == 0:
        return subtree(lo, hi)
    if memo is not None and (lo, hi) in memo:
        return memo[lo, hi]
    k = _largest_power_of_two_below(n)
    result = node_hash(subtree(lo, lo + k), range_hash(lo + k, hi, subtree, memo))
    if memo is not None:
        memo[lo, hi] = result
    return result


def inclusion_proof_by(
    index: int, size: int, subtree: SubtreeFn, memo: dict[tuple[int, int], bytes] | None = None
) -> list[bytes]:
    """``PATH(index, D[size])`` from stored subtree hashes, O(log size) look-ups."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    proof: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _largest_power_of_two_below(hi - lo)
        if index < lo + k:
            proof.append(range_hash(lo + k, hi, subtree, memo))
            hi = lo + k
        else:
            proof.append(range_hash(lo, lo + k, subtree, memo))
            lo += k
    proof.reverse()
    return proof


#: Siblings collected on the way down, nearest first: (hash, the ones above it).
_Siblings: TypeAlias = "tuple[bytes, _Siblings] | None"


def inclusion_proofs_from(
    start: int, size: int, subtree: SubtreeFn, memo: dict[tuple[int, int], bytes] | None = None
) -> list[list[bytes]]:
    """``PATH(i, D[size])`` for every leaf ``i`` in ``start..size-1``, in one walk.

    Walks the RFC 6962 split tree once, down the ranges that hold wanted leaves, handing each
    side the hash of the other: O(m + log n) hashes for m leaves instead of m separate paths.
    """
    if not 0 <= start <= size:
        raise ValueError(f"leaves {start}..{size - 1} are not in a tree of size {size}")
    proofs: list[list[bytes]] = []
    if start == size:
        return proofs
    # Each frame: a range to descend and the siblings collected above it (a linked list).
    stack: list[tuple[int, int, _Siblings]] = [(0, size, None)]
    while stack:
        lo, hi, above = stack.pop()
        if hi - lo == 1:
            path: list[bytes] = []
            while above is not None:
                sibling, above = above
                path.append(sibling)
            proofs.append(path)
            continue
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        middle = lo + k
        # Right pushed first, so leaves come out in order; a side with no wanted leaf is skipped.
        if hi > max(start, middle):
            stack.append((middle, hi, (range_hash(lo, middle, subtree, memo), above)))
        if middle > start:
            stack.append((lo, middle, (range_hash(middle, hi, subtree, memo), above)))
    return proofs


def consistency_proof_by(old_size: int, new_size: int, subtree: SubtreeFn) -> list[bytes]:
    """``PROOF(old_size, D[new_size])`` (RFC 9162 section 2.1.4.1) from stored subtree hashes."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    lo, hi, m, complete = 0, new_size, old_size, True
    while m != hi - lo:
        k = _largest_power_of_two_below(hi - lo)
        if m <= k:
            proof.append(range_hash(lo + k, hi, subtree))
            hi = lo + k
        else:
            proof.append(range_hash(lo, lo + k, subtree))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        proof.append(range_hash(lo, hi, subtree))
    proof.reverse()
    return proof


def new_subtrees(size: int, leaf: bytes, peaks: list[bytes]) -> list[tuple[int, int, bytes]]:
    """Append ``leaf`` as leaf number ``size`` to ``peaks`` (compact range, largest first).

    Returns every perfect subtree the append completes as ``(lo, hi, hash)``: the leaf itself,
    then each merge. A log stores these so that proofs need only look-ups.
    """
    made = [(size, size + 1, leaf)]
    node, width, index = leaf, 1, size
    while index & 1:
        node = node_hash(peaks.pop(), node)
        width *= 2
        index >>= 1
        made.append((index * width, index * width + width, node))
    peaks.append(node)
    return made
