"""RFC 6962 / RFC 9162 Merkle hashing and proofs, checked three ways.

1. Published vectors: Certificate Transparency's eight-leaf reference tree as kept by
   transparency-dev/merkle, its proof-shape tables, and files from its testdata corpus.
2. The corruptions transparency-dev/merkle's verify_test.go applies to every valid proof (the
   ones that generated its testdata corpus), each of which must be rejected.
3. A naive implementation of the RFC's recursive definitions, kept here, against the fast one,
   with Hypothesis choosing sizes, indices and single-byte tampering.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody._merkle import (
    EMPTY_ROOT,
    CompactRange,
    ProofError,
    _chain_consistency,
    _chain_inclusion,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
MAX_SIZE = 300


def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return loaded


REF = _load("rfc6962_reference_tree.json")
SHAPES = _load("rfc6962_proof_shapes.json")
TESTDATA = _load("rfc6962_transparency_dev_testdata.json")

REF_HASHES = [leaf_hash(bytes.fromhex(leaf)) for leaf in REF["leaves_hex"]]
REF_ROOTS = [bytes.fromhex(root) for root in REF["roots_hex"]]
REF_NODES = [[bytes.fromhex(h) for h in level] for level in REF["node_hashes_hex"]]
# verify_test.go's "some hash" and its WrongLeaf / WrongRoot stand-ins.
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
SYNTHETIC = [leaf_hash(b"custody leaf %d" % i) for i in range(MAX_SIZE)]


# -- the RFC's definitions, recursively and naively ----------------------------------------


def _split(n: int) -> int:
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def naive_mth(hashes: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.1 MTH, over leaf hashes."""
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = _split(len(hashes))
    return node_hash(naive_mth(hashes[:k]), naive_mth(hashes[k:]))


def naive_path(m: int, hashes: list[bytes]) -> list[bytes]:
    """RFC 9162 section 2.1.3.1 PATH(m, D[n])."""
    if len(hashes) == 1:
        return []
    k = _split(len(hashes))
    if m < k:
        return [*naive_path(m, hashes[:k]), naive_mth(hashes[k:])]
    return [*naive_path(m - k, hashes[k:]), naive_mth(hashes[:k])]


def naive_subproof(m: int, hashes: list[bytes], *, b: bool) -> list[bytes]:
    """RFC 9162 section 2.1.4.1 SUBPROOF(m, D[n], b)."""
    if m == len(hashes):
        return [] if b else [naive_mth(hashes)]
    k = _split(len(hashes))
    if m <= k:
        return [*naive_subproof(m, hashes[:k], b=b), naive_mth(hashes[k:])]
    return [*naive_subproof(m - k, hashes[k:], b=False), naive_mth(hashes[:k])]


def naive_proof(m: int, hashes: list[bytes]) -> list[bytes]:
    """RFC 9162 section 2.1.4.1 PROOF(m, D[n]); empty outside 0 < m < n."""
    return naive_subproof(m, hashes, b=True) if 0 < m < len(hashes) else []


def _flip(data: bytes, position: int = 0, mask: int = 8) -> bytes:
    return data[:position] + bytes([data[position] ^ mask]) + data[position + 1 :]


# -- the hasher -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", REF["hasher"], ids=lambda c: c["desc"])
def test_hasher_matches_transparency_dev_rfc6962_vectors(case: dict[str, str]) -> None:
    if case["kind"] == "empty":
        got = EMPTY_ROOT
    elif case["kind"] == "leaf":
        got = leaf_hash(bytes.fromhex(case["data_hex"]))
    else:
        got = node_hash(bytes.fromhex(case["left_hex"]), bytes.fromhex(case["right_hex"]))
    assert got.hex() == case["want_hex"]


def test_empty_root_is_not_the_hash_of_an_empty_leaf() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert leaf_hash(b"") != EMPTY_ROOT


def test_leaf_and_node_domains_are_separated() -> None:
    left, right = leaf_hash(b"Hello"), leaf_hash(b"World")
    assert node_hash(left, right) != leaf_hash(left + right)
    assert node_hash(left, right) != node_hash(right, left)


# -- the reference tree ---------------------------------------------------------------------


@pytest.mark.parametrize("size", range(9))
def test_reference_tree_roots_for_every_size(size: int) -> None:
    hashes = REF_HASHES[:size]
    assert root_from_leaf_hashes(hashes) == REF_ROOTS[size]
    assert naive_mth(hashes) == REF_ROOTS[size]
    compact = CompactRange()
    for h in hashes:
        compact.append(h)
    assert compact.root() == REF_ROOTS[size]


def test_reference_tree_root_is_the_published_5dc9() -> None:
    assert root_from_leaf_hashes(REF_HASHES).hex() == (
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    )


def test_reference_tree_node_hashes() -> None:
    for level, nodes in enumerate(REF_NODES):
        for index, expected in enumerate(nodes):
            width = 1 << level
            assert naive_mth(REF_HASHES[index * width : (index + 1) * width]) == expected


@pytest.mark.parametrize("size", range(9))
def test_compact_range_matches_transparency_dev_compact_trees(size: int) -> None:
    compact = CompactRange()
    for h in REF_HASHES[:size]:
        compact.append(h)
    expected = [REF_NODES[level][index] for level, index in REF["compact_ranges"][size]]
    assert compact.to_list() == expected
    assert compact.size == size


# -- published proofs -----------------------------------------------------------------------


def _inclusion_cases() -> list[tuple[int, int, list[bytes]]]:
    return [
        (c["index"], c["size"], [bytes.fromhex(h) for h in c["proof_hex"]])
        for c in REF["inclusion"]
    ]


def _consistency_cases() -> list[tuple[int, int, list[bytes]]]:
    return [
        (c["old_size"], c["new_size"], [bytes.fromhex(h) for h in c["proof_hex"]])
        for c in REF["consistency"]
    ]


@pytest.mark.parametrize(("index", "size", "proof"), _inclusion_cases())
def test_published_inclusion_proof_is_generated_and_verifies(
    index: int, size: int, proof: list[bytes]
) -> None:
    assert inclusion_proof(REF_HASHES[:size], index) == proof
    assert naive_path(index, REF_HASHES[:size]) == proof
    verify_inclusion(REF_HASHES[index], index, size, proof, REF_ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), _consistency_cases())
def test_published_consistency_proof_is_generated_and_verifies(
    old: int, new: int, proof: list[bytes]
) -> None:
    assert consistency_proof(REF_HASHES[:new], old) == proof
    assert naive_proof(old, REF_HASHES[:new]) == proof
    verify_consistency(old, new, REF_ROOTS[old], REF_ROOTS[new], proof)


def _resolve(shape: dict[str, Any], hashes: list[bytes]) -> list[bytes]:
    """A transparency-dev node-id proof as hashes (proof.Nodes.Rehash)."""
    nodes = [naive_mth(hashes[i << level : (i + 1) << level]) for level, i in shape["nodes"]]
    if "rehash" in shape:
        begin, end = shape["rehash"]
        folded = nodes[begin]
        for node in nodes[begin + 1 : end]:
            folded = node_hash(node, folded)
        nodes = [*nodes[:begin], folded, *nodes[end:]]
    return nodes


@pytest.mark.parametrize("shape", SHAPES["inclusion"], ids=lambda s: f"{s['index']}:{s['size']}")
def test_inclusion_proof_has_transparency_dev_shape(shape: dict[str, Any]) -> None:
    hashes = SYNTHETIC[: shape["size"]]
    assert inclusion_proof(hashes, shape["index"]) == _resolve(shape, hashes)


@pytest.mark.parametrize(
    "shape", SHAPES["consistency"], ids=lambda s: f"{s['old_size']}:{s['new_size']}"
)
def test_consistency_proof_has_transparency_dev_shape(shape: dict[str, Any]) -> None:
    hashes = SYNTHETIC[: shape["new_size"]]
    assert consistency_proof(hashes, shape["old_size"]) == _resolve(shape, hashes)


@pytest.mark.parametrize(("size", "index"), SHAPES["inclusion_errors"])
def test_inclusion_proof_for_a_leaf_outside_the_tree_is_refused(size: int, index: int) -> None:
    with pytest.raises(ValueError, match="not in a tree"):
        inclusion_proof(SYNTHETIC[:size], index)


@pytest.mark.parametrize(("old", "new"), [*SHAPES["consistency_errors"], (-1, 3)])
def test_consistency_proof_from_a_larger_tree_is_refused(old: int, new: int) -> None:
    with pytest.raises(ValueError, match="not between 0"):
        consistency_proof(SYNTHETIC[:new], old)


def test_consistency_proof_from_the_empty_tree_is_empty() -> None:
    assert consistency_proof(SYNTHETIC[:5], 0) == []
    verify_consistency(0, 5, EMPTY_ROOT, root_from_leaf_hashes(SYNTHETIC[:5]), [])


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


@pytest.mark.parametrize("case", TESTDATA["inclusion"], ids=lambda c: c["path"])
def test_transparency_dev_testdata_inclusion(case: dict[str, Any]) -> None:
    c = case["case"]
    proof = [_b64(h) for h in c["proof"] or []]
    args = (_b64(c["leafHash"]), c["leafIdx"], c["treeSize"], proof, _b64(c["root"]))
    if c["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("case", TESTDATA["consistency"], ids=lambda c: c["path"])
def test_transparency_dev_testdata_consistency(case: dict[str, Any]) -> None:
    c = case["case"]
    proof = [_b64(h) for h in c["proof"] or []]
    args = (c["size1"], c["size2"], _b64(c["root1"]), _b64(c["root2"]), proof)
    if c["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


# -- every corruption verify_test.go tries must fail -----------------------------------------


def _inclusion_probes(
    index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes
) -> list[tuple[str, tuple[bytes, int, int, list[bytes], bytes]]]:
    probes = [
        ("index - 1", (leaf, index - 1, size, proof, root)),
        ("index + 1", (leaf, index + 1, size, proof, root)),
        ("index ^ 2", (leaf, index ^ 2, size, proof, root)),
        ("size * 2", (leaf, index, size * 2, proof, root)),
        ("size / 2", (leaf, index, size // 2, proof, root)),
        ("wrong leaf", (b"WrongLeaf", index, size, proof, root)),
        ("other leaf", (leaf_hash(b"other"), index, size, proof, root)),
        ("empty root", (leaf, index, size, proof, EMPTY_ROOT)),
        ("random root", (leaf, index, size, proof, SOME_HASH)),
        ("root bit 0", (leaf, index, size, proof, _flip(root, 0, 1))),
        ("root last byte", (leaf, index, size, proof, _flip(root, 31, 0x80))),
        ("trailing garbage", (leaf, index, size, [*proof, b""], root)),
        ("trailing root", (leaf, index, size, [*proof, root], root)),
        ("preceding garbage", (leaf, index, size, [b"", *proof], root)),
        ("preceding root", (leaf, index, size, [root, *proof], root)),
    ]
    for i in range(len(proof)):
        flipped = [*proof[:i], _flip(proof[i]), *proof[i + 1 :]]
        probes.append((f"proof[{i}] bit 3", (leaf, index, size, flipped, root)))
    if proof:
        probes.append(("removed component", (leaf, index, size, proof[:-1], root)))
    if len(proof) > 1:
        inserted = [proof[0], SOME_HASH, *proof[1:]]
        probes.append(("inserted component", (leaf, index, size, inserted, root)))
    return probes


def _all_inclusion_probes() -> list[Any]:
    return [
        pytest.param(*args, id=f"{index}:{size} {desc}")
        for index, size, proof in _inclusion_cases()
        for desc, args in _inclusion_probes(index, size, proof, REF_ROOTS[size], REF_HASHES[index])
    ]


@pytest.mark.parametrize(("leaf", "index", "size", "proof", "root"), _all_inclusion_probes())
def test_corrupted_inclusion_proof_rejected(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> None:
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, size, proof, root)


def _consistency_probes(
    old: int, new: int, proof: list[bytes], old_root: bytes, new_root: bytes
) -> list[tuple[str, tuple[int, int, bytes, bytes, list[bytes]]]]:
    probes = [
        ("size1 - 1", (old - 1, new, old_root, new_root, proof)),
        ("size1 + 1", (old + 1, new, old_root, new_root, proof)),
        ("size1 ^ 2", (old ^ 2, new, old_root, new_root, proof)),
        ("size2 * 2", (old, new * 2, old_root, new_root, proof)),
        ("size2 / 2", (old, new // 2, old_root, new_root, proof)),
        ("wrong root1", (old, new, b"WrongRoot", new_root, proof)),
        ("wrong root2", (old, new, old_root, b"WrongRoot", proof)),
        ("root1 bit flipped", (old, new, _flip(old_root), new_root, proof)),
        ("root2 bit flipped", (old, new, old_root, _flip(new_root, 31, 1), proof)),
        ("swapped roots", (old, new, new_root, old_root, proof)),
        ("empty proof", (old, new, old_root, new_root, [])),
        ("trailing garbage", (old, new, old_root, new_root, [*proof, b""])),
        ("trailing root1", (old, new, old_root, new_root, [*proof, old_root])),
        ("trailing root2", (old, new, old_root, new_root, [*proof, new_root])),
        ("preceding garbage", (old, new, old_root, new_root, [b"", *proof])),
        ("preceding root1", (old, new, old_root, new_root, [old_root, *proof])),
        ("preceding root2", (old, new, old_root, new_root, [new_root, *proof])),
        ("preceding proof[0]", (old, new, old_root, new_root, [proof[0], *proof])),
        ("truncated proof", (old, new, old_root, new_root, proof[:-1])),
    ]
    for i in range(len(proof)):
        flipped = [*proof[:i], _flip(proof[i], 0, 16), *proof[i + 1 :]]
        probes.append((f"proof[{i}] bit 4", (old, new, old_root, new_root, flipped)))
    return probes


def _all_consistency_probes() -> list[Any]:
    return [
        pytest.param(*args, id=f"{old}:{new} {desc}")
        for old, new, proof in _consistency_cases()
        if proof  # like verify_test.go: the trivial proofs have nothing to corrupt
        for desc, args in _consistency_probes(old, new, proof, REF_ROOTS[old], REF_ROOTS[new])
    ]


@pytest.mark.parametrize(("old", "new", "old_root", "new_root", "proof"), _all_consistency_probes())
def test_corrupted_consistency_proof_rejected(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> None:
    with pytest.raises(ProofError):
        verify_consistency(old, new, old_root, new_root, proof)


# verify_test.go TestVerifyConsistency, with 32-byte roots (ours refuses any other length).
R1, R2 = leaf_hash(b"don't care 1"), leaf_hash(b"don't care 2")


@pytest.mark.parametrize(
    ("old", "new", "old_root", "new_root", "proof", "ok"),
    [
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [], True),
        (0, 1, EMPTY_ROOT, R2, [], True),
        (1, 1, R2, R2, [], True),
        (0, 0, R1, R1, [], False),  # an empty tree's root is the empty root
        (0, 1, R1, R2, [], False),  # ... whatever comes after it
        (1, 1, R1, R2, [], False),  # one size, two roots: a fork
        (1, 0, R1, R2, [], False),  # time travel to the past
        (2, 1, R1, R2, [], False),
        (1, 2, R1, R2, [], False),  # empty proof
        (0, 0, EMPTY_ROOT, R2, [], False),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),  # equal roots, non-empty proof
        (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (1, 1, b"don't care", b"don't care", [], False),  # not a SHA-256 hash
    ],
)
def test_trivial_consistency_cases(
    old: int,
    new: int,
    old_root: bytes,
    new_root: bytes,
    proof: list[bytes],
    ok: bool,  # noqa: FBT001  # parametrised flag
) -> None:
    if ok:
        verify_consistency(old, new, old_root, new_root, proof)
    else:
        with pytest.raises(ProofError):
            verify_consistency(old, new, old_root, new_root, proof)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (2, 1), (-1, 5), (5, 5)])
def test_inclusion_index_out_of_range_rejected(index: int, size: int) -> None:
    with pytest.raises(ProofError, match="out of range"):
        verify_inclusion(SOME_HASH, index, size, [], SOME_HASH)


def test_inclusion_proof_of_wrong_length_names_the_expected_length() -> None:
    proof = inclusion_proof(REF_HASHES, 5)
    with pytest.raises(ProofError, match="has 4 hashes, expected 3"):
        verify_inclusion(REF_HASHES[5], 5, 8, [*proof, SOME_HASH], REF_ROOTS[8])


def test_consistency_proof_of_wrong_length_names_the_expected_length() -> None:
    proof = consistency_proof(REF_HASHES, 6)
    with pytest.raises(ProofError, match="has 2 hashes, expected 3"):
        verify_consistency(6, 8, REF_ROOTS[6], REF_ROOTS[8], proof[:2])


@pytest.mark.parametrize(
    ("what", "call"),
    [
        ("leaf hash", lambda: verify_inclusion(b"x" * 31, 0, 1, [], REF_ROOTS[1])),
        ("root hash", lambda: verify_inclusion(REF_HASHES[0], 0, 1, [], b"x" * 33)),
        (
            "proof hash 1",
            lambda: verify_inclusion(REF_HASHES[0], 0, 4, [SOME_HASH, b""], SOME_HASH),
        ),
        ("old root", lambda: verify_consistency(1, 2, b"", SOME_HASH, [SOME_HASH])),
        ("new root", lambda: verify_consistency(1, 2, SOME_HASH, b"", [SOME_HASH])),
        ("proof hash 0", lambda: verify_consistency(1, 2, SOME_HASH, SOME_HASH, [b"x"])),
    ],
)
def test_hash_of_wrong_length_rejected(what: str, call: Any) -> None:
    with pytest.raises(ProofError, match=f"{what} has"):
        call()


def test_root_mismatch_messages_say_which_root() -> None:
    proof = consistency_proof(REF_HASHES, 6)
    with pytest.raises(ProofError, match="old root"):
        verify_consistency(6, 8, REF_ROOTS[5], REF_ROOTS[8], proof)
    with pytest.raises(ProofError, match="new root"):
        verify_consistency(6, 8, REF_ROOTS[6], REF_ROOTS[7], proof)
    with pytest.raises(ProofError, match="does not match the root"):
        verify_inclusion(REF_HASHES[5], 5, 8, inclusion_proof(REF_HASHES, 5), REF_ROOTS[7])


def test_rfc9162_loops_refuse_proofs_of_the_wrong_length_on_their_own() -> None:
    # The verifiers check the length first; the RFC's own checks stay as a second line.
    proof = inclusion_proof(REF_HASHES, 5)
    with pytest.raises(ProofError, match="longer"):
        _chain_inclusion(REF_HASHES[5], 5, 8, [*proof, SOME_HASH])
    with pytest.raises(ProofError, match="shorter"):
        _chain_inclusion(REF_HASHES[5], 5, 8, proof[:-1])
    proof = consistency_proof(REF_HASHES, 6)
    with pytest.raises(ProofError, match="longer"):
        _chain_consistency(6, 8, REF_ROOTS[6], [*proof, SOME_HASH])
    with pytest.raises(ProofError, match="shorter"):
        _chain_consistency(6, 8, REF_ROOTS[6], proof[:-1])
    with pytest.raises(ProofError, match="empty"):
        _chain_consistency(6, 8, REF_ROOTS[6], [])


# -- exhaustive on small trees, then Hypothesis against the naive definitions ----------------


def test_every_proof_in_trees_up_to_40_leaves_verifies_and_matches_the_rfc() -> None:
    for new in range(1, 41):
        hashes = SYNTHETIC[:new]
        root = root_from_leaf_hashes(hashes)
        for index in range(new):
            proof = inclusion_proof(hashes, index)
            assert proof == naive_path(index, hashes)
            verify_inclusion(hashes[index], index, new, proof, root)
        for old in range(new + 1):
            proof = consistency_proof(hashes, old)
            assert proof == naive_proof(old, hashes)
            verify_consistency(old, new, root_from_leaf_hashes(hashes[:old]), root, proof)


def test_fast_roots_equal_naive_roots_for_every_size_up_to_300() -> None:
    compact = CompactRange()
    assert compact.root() == EMPTY_ROOT
    for size in range(1, MAX_SIZE + 1):
        compact.append(SYNTHETIC[size - 1])
        expected = naive_mth(SYNTHETIC[:size])
        assert root_from_leaf_hashes(SYNTHETIC[:size]) == expected
        assert compact.root() == expected
        assert compact.size == size
        assert len(compact.to_list()) == size.bit_count()


def _tree_and_index() -> st.SearchStrategy[tuple[int, int]]:
    return st.integers(1, MAX_SIZE).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1)))


def _tree_and_old_size() -> st.SearchStrategy[tuple[int, int]]:
    return st.integers(1, MAX_SIZE).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n)))


@settings(max_examples=60, database=None, derandomize=True)
@given(
    tree=_tree_and_index(),
    pick=st.integers(0, 10**6),
    byte=st.integers(0, 31),
    mask=st.integers(1, 255),
)
def test_inclusion_fast_equals_naive_and_any_changed_byte_fails(
    tree: tuple[int, int], pick: int, byte: int, mask: int
) -> None:
    size, index = tree
    hashes = SYNTHETIC[:size]
    root = root_from_leaf_hashes(hashes)
    proof = inclusion_proof(hashes, index)
    assert proof == naive_path(index, hashes)
    verify_inclusion(hashes[index], index, size, proof, root)

    target = pick % (len(proof) + 2)  # a proof hash, the root, or the leaf hash
    leaf, bad_root, bad_proof = hashes[index], root, list(proof)
    if target < len(proof):
        bad_proof[target] = _flip(proof[target], byte, mask)
    elif target == len(proof):
        bad_root = _flip(root, byte, mask)
    else:
        leaf = _flip(leaf, byte, mask)
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, size, bad_proof, bad_root)


@settings(max_examples=60, database=None, derandomize=True)
@given(
    tree=_tree_and_old_size(),
    pick=st.integers(0, 10**6),
    byte=st.integers(0, 31),
    mask=st.integers(1, 255),
)
def test_consistency_fast_equals_naive_and_any_changed_byte_fails(
    tree: tuple[int, int], pick: int, byte: int, mask: int
) -> None:
    new, old = tree
    hashes = SYNTHETIC[:new]
    old_root, new_root = root_from_leaf_hashes(hashes[:old]), root_from_leaf_hashes(hashes)
    proof = consistency_proof(hashes, old)
    assert proof == naive_proof(old, hashes)
    verify_consistency(old, new, old_root, new_root, proof)

    # From the empty tree nothing binds the new root, so only the old root can be tampered with.
    targets = len(proof) + (2 if old else 1)
    target = pick % targets
    bad_proof = list(proof)
    if target < len(proof):
        bad_proof[target] = _flip(proof[target], byte, mask)
    elif target == len(proof):
        old_root = _flip(old_root, byte, mask)
    else:
        new_root = _flip(new_root, byte, mask)
    with pytest.raises(ProofError):
        verify_consistency(old, new, old_root, new_root, bad_proof)


@settings(max_examples=40, database=None, derandomize=True)
@given(tree=_tree_and_index(), extra=st.booleans())
def test_inclusion_proof_one_hash_too_long_or_short_rejected(
    tree: tuple[int, int],
    extra: bool,  # noqa: FBT001  # drawn by Hypothesis
) -> None:
    size, index = tree
    proof = inclusion_proof(SYNTHETIC[:size], index)
    if not extra and not proof:
        return
    bad = [*proof, SOME_HASH] if extra else proof[:-1]
    with pytest.raises(ProofError, match="expected"):
        verify_inclusion(
            SYNTHETIC[index], index, size, bad, root_from_leaf_hashes(SYNTHETIC[:size])
        )


@settings(max_examples=40, database=None, derandomize=True)
@given(tree=_tree_and_old_size())
def test_consistency_proof_for_other_sizes_rejected(tree: tuple[int, int]) -> None:
    # A proof for (old, new) must not pass as one for (old + 1, new) or (old, new + 1).
    new, old = tree
    hashes = SYNTHETIC[: new + 1]
    proof = consistency_proof(hashes[:new], old)
    if old + 1 < new or (old + 1 == new and proof):  # (0 -> 1) and (1 -> 1) are both empty
        with pytest.raises(ProofError):
            verify_consistency(
                old + 1,
                new,
                root_from_leaf_hashes(hashes[: old + 1]),
                root_from_leaf_hashes(hashes[:new]),
                proof,
            )
    if old > 0:
        with pytest.raises(ProofError):
            verify_consistency(
                old,
                new + 1,
                root_from_leaf_hashes(hashes[:old]),
                root_from_leaf_hashes(hashes),
                proof,
            )


# -- CompactRange state ---------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 2, 3, 7, 8, 255, 256, 300])
def test_compact_range_state_round_trips(size: int) -> None:
    compact = CompactRange()
    for h in SYNTHETIC[:size]:
        compact.append(h)
    restored = CompactRange.from_list(compact.size, compact.to_list())
    assert restored == compact
    assert restored.root() == compact.root()
    if size < MAX_SIZE:
        restored.append(SYNTHETIC[size])
        assert restored.root() == root_from_leaf_hashes(SYNTHETIC[: size + 1])


def test_compact_range_to_list_is_a_copy() -> None:
    compact = CompactRange()
    compact.append(SYNTHETIC[0])
    compact.to_list().clear()
    assert compact.root() == SYNTHETIC[0]


@pytest.mark.parametrize(
    ("size", "peaks", "message"),
    [
        (-1, [], "negative"),
        (3, [SOME_HASH], "2 perfect subtrees"),
        (4, [SOME_HASH, SOME_HASH], "1 perfect subtrees"),
        (1, [b"short"], "32 bytes"),
    ],
)
def test_compact_range_refuses_impossible_state(
    size: int, peaks: list[bytes], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        CompactRange.from_list(size, peaks)


def test_compact_range_refuses_an_entry_instead_of_a_leaf_hash() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        CompactRange().append(b"an entry, not its hash")


def test_compact_range_equality_and_repr() -> None:
    a, b = CompactRange(), CompactRange()
    a.append(SYNTHETIC[0])
    assert a != b
    b.append(SYNTHETIC[0])
    assert a == b
    assert a != "CompactRange"
    assert repr(a) == f"CompactRange(size=1, root={SYNTHETIC[0].hex()})"
    with pytest.raises(TypeError):
        hash(a)


# --- proofs from stored subtrees (what the ledger serves) ---------------------------------------


def _stored(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    from custody._merkle import new_subtrees  # noqa: PLC0415

    nodes: dict[tuple[int, int], bytes] = {}
    peaks: list[bytes] = []
    for i, leaf in enumerate(leaves):
        for lo, hi, node in new_subtrees(i, leaf, peaks):
            nodes[lo, hi] = node
    return nodes


@settings(max_examples=60, database=None, derandomize=True)
@given(size=st.integers(1, 300), data=st.data())
def test_store_backed_proofs_equal_list_based_ones(size: int, data: st.DataObject) -> None:
    from custody._merkle import (  # noqa: PLC0415
        consistency_proof_by,
        inclusion_proof_by,
        range_hash,
    )

    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    nodes = _stored(leaves)
    subtree = lambda lo, hi: nodes[lo, hi]  # noqa: E731
    assert range_hash(0, size, subtree) == root_from_leaf_hashes(leaves)
    index = data.draw(st.integers(0, size - 1))
    assert inclusion_proof_by(index, size, subtree) == inclusion_proof(leaves, index)
    old = data.draw(st.integers(0, size))
    assert consistency_proof_by(old, size, subtree) == consistency_proof(leaves, old)


@settings(max_examples=60, database=None, derandomize=True)
@given(size=st.integers(1, 300), data=st.data())
def test_batch_proofs_equal_one_proof_per_leaf(size: int, data: st.DataObject) -> None:
    from custody._merkle import inclusion_proofs_from  # noqa: PLC0415

    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    nodes = _stored(leaves)
    start = data.draw(st.integers(0, size))
    proofs = inclusion_proofs_from(start, size, lambda lo, hi: nodes[lo, hi])
    assert proofs == [inclusion_proof(leaves, i) for i in range(start, size)]
