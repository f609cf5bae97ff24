"""The witness's add-checkpoint logic (C2SP tlog-witness) over real ledger checkpoints.

Each attack is a one-field change of a valid request: the old size, one proof hash, the note's
signature or text, or a checkpoint from a second log that reuses the real log's key.
"""

from __future__ import annotations

import base64
import contextlib
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody._merkle import EMPTY_ROOT
from custody.checkpoint import (
    Checkpoint,
    cosign,
    open_cosignatures,
    open_note,
    sign_note,
    verify_cosignature,
)
from custody.errors import (
    CheckpointMalformed,
    ConfigurationError,
    ConflictError,
    CustodyError,
    InputError,
    KeyUnknown,
    NoteMalformed,
    NotFoundError,
    ProofInvalid,
    SignatureInvalid,
)
from custody.events import Step
from custody.keys import KeyRole
from custody.ledger import Ledger
from custody.witness import (
    MAX_PROOF_LINES,
    MAX_REQUEST_BYTES,
    ROOT_MISMATCH,
    STALE_OLD_SIZE,
    AddCheckpointRequest,
    InMemoryWitnessStore,
    Witness,
    WitnessedCheckpoint,
)
from tests.conftest import GENERATOR_CODE
from tests.fakes.ledger_store import InMemoryLedgerStore
from tests.ledger_fixtures import LOG_KEY, ORIGIN, Scanner, drum, key

if TYPE_CHECKING:
    from collections.abc import Sequence

    from custody.keys import SigningKey

WITNESS_KEY = key(9, "witness.test/w1", "witness.test", KeyRole.WITNESS)
WITNESS = WITNESS_KEY.record.verifier_key
NOW = 1_772_697_600  # 2026-03-05T08:00:00Z


class Log:
    """A real ledger that grows on demand; ``seed`` makes a second log with other entries."""

    def __init__(self, seed: int = 0) -> None:
        self.store = InMemoryLedgerStore()
        self.ledger = Ledger(self.store, LOG_KEY, ORIGIN)
        self.scanner = Scanner(GENERATOR_CODE)
        self.seed = seed

    @property
    def size(self) -> int:
        return self.store.state().size

    @property
    def note(self) -> bytes:
        note = self.store.state().checkpoint
        assert note is not None
        return note

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint.parse_body(open_note(self.note, [LOG_KEY.record.verifier_key])[0])

    def grow_to(self, size: int) -> Log:
        events = [
            self.scanner.scan(Step.COMMISSIONING, drum(n + 1), seed=self.seed)
            for n in range(self.size, size)
        ]
        self.ledger.append(events)
        return self

    def request(self, old: int, proof: Sequence[bytes] | None = None) -> bytes:
        """The add-checkpoint body for the latest checkpoint, with the real proof from ``old``."""
        if proof is None:
            proof = self.ledger.consistency(old, self.size)
        return AddCheckpointRequest(old, tuple(proof), self.note).to_bytes()


def _witness(store: InMemoryWitnessStore | None = None, clock: int = NOW) -> Witness:
    return Witness(
        WITNESS_KEY,
        {ORIGIN: LOG_KEY.record.verifier_key},
        store or InMemoryWitnessStore(),
        lambda: clock,
    )


@pytest.fixture
def store() -> InMemoryWitnessStore:
    return InMemoryWitnessStore()


@pytest.fixture
def witness(store: InMemoryWitnessStore) -> Witness:
    return _witness(store)


def _cosigned_at(witness: Witness, log: Log, old: int) -> None:
    witness.add_checkpoint(log.request(old))


# -- what a witness accepts ---------------------------------------------------------------------


def test_first_checkpoint_is_cosigned_from_old_zero(
    witness: Witness, store: InMemoryWitnessStore
) -> None:
    log = Log().grow_to(3)
    line = witness.add_checkpoint(log.request(0))
    cosignature = verify_cosignature(log.checkpoint, line, WITNESS)
    assert (cosignature.witness, cosignature.timestamp) == (WITNESS, NOW)
    assert store.latest(ORIGIN) == WitnessedCheckpoint(log.checkpoint, log.note)


def test_growth_with_a_valid_consistency_proof_is_cosigned(
    witness: Witness, store: InMemoryWitnessStore
) -> None:
    log = Log().grow_to(3)
    _cosigned_at(witness, log, 0)
    log.grow_to(7)
    assert log.ledger.consistency(3, 7)  # a real, non-empty proof
    line = witness.add_checkpoint(log.request(3))
    checkpoint, (cosignature,) = open_cosignatures(log.note + line, [WITNESS])
    assert checkpoint == log.checkpoint
    assert cosignature.timestamp == NOW
    latest = store.latest(ORIGIN)
    assert latest is not None
    assert latest.size == 7


@pytest.mark.parametrize(("first", "sizes"), [(1, [2, 3, 4, 8]), (5, [6, 13, 16, 17]), (7, [7, 8])])
def test_every_step_of_a_growing_log_is_cosigned(first: int, sizes: list[int]) -> None:
    witness, log = _witness(), Log().grow_to(first)
    _cosigned_at(witness, log, 0)
    old = first
    for size in sizes:
        log.grow_to(size)
        verify_cosignature(log.checkpoint, witness.add_checkpoint(log.request(old)), WITNESS)
        old = size


def test_empty_tree_is_cosigned_and_then_grown_from(witness: Witness) -> None:
    empty = sign_note(Checkpoint(ORIGIN, 0, EMPTY_ROOT).body(), LOG_KEY)
    witness.add_checkpoint(AddCheckpointRequest(0, (), empty).to_bytes())
    log = Log().grow_to(2)
    verify_cosignature(log.checkpoint, witness.add_checkpoint(log.request(0)), WITNESS)


def test_same_checkpoint_resubmitted_is_cosigned_again_with_a_new_time(
    store: InMemoryWitnessStore,
) -> None:
    log = Log().grow_to(4)
    _witness(store, NOW).add_checkpoint(log.request(0))
    line = _witness(store, NOW + 60).add_checkpoint(log.request(4))
    assert verify_cosignature(log.checkpoint, line, WITNESS).timestamp == NOW + 60


def test_witness_state_is_kept_per_origin(store: InMemoryWitnessStore) -> None:
    other_store = InMemoryLedgerStore()
    other = Ledger(other_store, key(10, "other.test/log", "other", KeyRole.LOG), "other.test/log")
    other.append([Scanner(GENERATOR_CODE).scan(Step.COMMISSIONING, drum(1))])
    logs = {ORIGIN: LOG_KEY.record.verifier_key, other.origin: other.verifier}
    witness = Witness(WITNESS_KEY, logs, store, lambda: NOW)
    _cosigned_at(witness, Log().grow_to(3), 0)
    note = other_store.state().checkpoint
    assert note is not None
    witness.add_checkpoint(AddCheckpointRequest(0, (), note).to_bytes())
    sizes = [latest.size if (latest := store.latest(o)) else None for o in logs]
    assert sizes == [3, 1]


# -- stale and rolled-back requests -------------------------------------------------------------


def test_stale_old_size_gets_a_conflict_with_the_current_size(
    witness: Witness, store: InMemoryWitnessStore
) -> None:
    log = Log().grow_to(3)
    _cosigned_at(witness, log, 0)
    log.grow_to(5)
    before = store.latest(ORIGIN)
    with pytest.raises(ConflictError) as caught:
        witness.add_checkpoint(log.request(2))
    assert caught.value.context == {"reason": STALE_OLD_SIZE, "size": 3}
    assert store.latest(ORIGIN) == before


def test_old_zero_probes_the_witness_for_its_size(witness: Witness) -> None:
    log = Log().grow_to(3)
    _cosigned_at(witness, log, 0)
    log.grow_to(4)
    with pytest.raises(ConflictError) as caught:
        witness.add_checkpoint(log.request(0, proof=[]))
    assert caught.value.context["size"] == 3


def test_nonzero_old_size_for_a_log_never_seen_is_a_conflict_at_zero(witness: Witness) -> None:
    log = Log().grow_to(5)
    with pytest.raises(ConflictError) as caught:
        witness.add_checkpoint(log.request(2))
    assert caught.value.context["size"] == 0


def test_rollback_to_a_smaller_tree_refused(witness: Witness, store: InMemoryWitnessStore) -> None:
    old_log = Log().grow_to(3)
    old_note = old_log.note
    log = Log().grow_to(3)
    _cosigned_at(witness, log, 0)
    log.grow_to(7)
    _cosigned_at(witness, log, 3)
    replay = AddCheckpointRequest(7, (), old_note).to_bytes()
    with pytest.raises(InputError) as too_big:  # old 7 > size 3: the spec's 400
        witness.add_checkpoint(replay)
    assert too_big.value.context["field"] == "old"
    with pytest.raises(ConflictError) as stale:  # old 3 is not where the witness is
        witness.add_checkpoint(AddCheckpointRequest(3, (), old_note).to_bytes())
    assert stale.value.context["size"] == 7
    latest = store.latest(ORIGIN)
    assert latest is not None
    assert latest.size == 7


def test_concurrent_request_cannot_roll_the_witness_back() -> None:
    """The spec's race: B (size 9) lands between A's (size 5) check and A's store."""
    log = Log().grow_to(3)
    store = RacingStore()
    witness = _witness(store)
    _cosigned_at(witness, log, 0)
    log.grow_to(5)
    request_a = log.request(3)
    log.grow_to(9)
    store.before_swap = lambda: _cosigned_at(witness, log, 3)
    with pytest.raises(ConflictError) as caught:
        witness.add_checkpoint(request_a)
    assert caught.value.context == {"reason": STALE_OLD_SIZE, "size": 9}
    latest = store.latest(ORIGIN)
    assert latest is not None
    assert latest.size == 9


class RacingStore(InMemoryWitnessStore):
    """Runs ``before_swap`` once, just before the next compare-and-swap."""

    def __init__(self) -> None:
        super().__init__()
        self.before_swap: object = None

    def compare_and_swap(
        self, origin: str, expected: WitnessedCheckpoint | None, new: WitnessedCheckpoint
    ) -> bool:
        racer, self.before_swap = self.before_swap, None
        if callable(racer):
            racer()
        return super().compare_and_swap(origin, expected, new)


# -- proofs and split views ---------------------------------------------------------------------


def test_bad_consistency_proof_rejected(witness: Witness, store: InMemoryWitnessStore) -> None:
    log = Log().grow_to(3)
    _cosigned_at(witness, log, 0)
    log.grow_to(6)
    proof = log.ledger.consistency(3, 6)
    proof[0] = bytes([proof[0][0] ^ 1]) + proof[0][1:]
    with pytest.raises(ProofInvalid) as caught:
        witness.add_checkpoint(log.request(3, proof))
    assert caught.value.context == {"origin": ORIGIN, "old_size": 3, "size": 6}
    latest = store.latest(ORIGIN)
    assert latest is not None
    assert latest.size == 3


@pytest.mark.parametrize("change", ["drop", "extra"], ids=["short-proof", "long-proof"])
def test_proof_of_the_wrong_length_rejected(witness: Witness, change: str) -> None:
    log = Log().grow_to(3)
    _cosigned_at(witness, log, 0)
    log.grow_to(6)
    proof = log.ledger.consistency(3, 6)
    proof = proof[:-1] if change == "drop" else [*proof, proof[0]]
    with pytest.raises(ProofInvalid):
        witness.add_checkpoint(log.request(3, proof))


def test_proof_from_old_zero_must_be_empty(witness: Witness) -> None:
    log = Log().grow_to(3)
    with pytest.raises(ProofInvalid):
        witness.add_checkpoint(log.request(0, proof=[bytes(32)]))


def test_same_size_with_a_proof_rejected(witness: Witness) -> None:
    log = Log().grow_to(3)
    _cosigned_at(witness, log, 0)
    with pytest.raises(ProofInvalid):
        witness.add_checkpoint(log.request(3, proof=[bytes(32)]))


def test_split_view_at_the_same_size_is_a_conflict_with_both_notes(
    witness: Witness, store: InMemoryWitnessStore
) -> None:
    seen, fork = Log(seed=1).grow_to(3), Log(seed=2).grow_to(3)
    assert seen.checkpoint.root != fork.checkpoint.root
    _cosigned_at(witness, seen, 0)
    with pytest.raises(ConflictError) as caught:
        witness.add_checkpoint(fork.request(3))
    context = caught.value.context
    assert (context["reason"], context["size"]) == (ROOT_MISMATCH, 3)
    assert (context["stored_note"], context["submitted_note"]) == (seen.note, fork.note)
    latest = store.latest(ORIGIN)
    assert latest is not None
    assert latest.note == seen.note


def test_forked_log_cannot_grow_past_the_witness(witness: Witness) -> None:
    seen, fork = Log(seed=1).grow_to(3), Log(seed=2).grow_to(3)
    _cosigned_at(witness, seen, 0)
    fork.grow_to(8)
    with pytest.raises(ProofInvalid):  # a true proof, but from the fork's own size-3 tree
        witness.add_checkpoint(fork.request(3))


def test_empty_tree_checkpoint_with_a_made_up_root_rejected(witness: Witness) -> None:
    note = sign_note(Checkpoint(ORIGIN, 0, bytes(32)).body(), LOG_KEY)
    with pytest.raises(ProofInvalid):
        witness.add_checkpoint(AddCheckpointRequest(0, (), note).to_bytes())


# -- who signed the note ------------------------------------------------------------------------


def test_unknown_origin_is_not_found(witness: Witness) -> None:
    note = sign_note(Checkpoint("elsewhere.test/log", 1, bytes(32)).body(), LOG_KEY)
    with pytest.raises(NotFoundError) as caught:
        witness.add_checkpoint(AddCheckpointRequest(0, (), note).to_bytes())
    assert caught.value.context == {"origin": "elsewhere.test/log"}


@pytest.mark.parametrize(
    "signer",
    [
        key(11, "custody/log/1", "custody", KeyRole.LOG),  # an impostor using the log's name
        key(12, "intruder.test/log", "intruder", KeyRole.LOG),
    ],
    ids=["same-name", "other-name"],
)
def test_note_signed_by_an_unknown_key_refused(witness: Witness, signer: SigningKey) -> None:
    log = Log().grow_to(3)
    note = sign_note(log.checkpoint.body(), signer)
    with pytest.raises(KeyUnknown):
        witness.add_checkpoint(AddCheckpointRequest(0, (), note).to_bytes())


def test_witness_signature_alone_does_not_count_as_the_log_signature(witness: Witness) -> None:
    log = Log().grow_to(3)
    body = log.checkpoint.body()
    note = body + b"\n" + cosign(log.checkpoint, WITNESS_KEY, NOW)
    with pytest.raises(KeyUnknown):
        witness.add_checkpoint(AddCheckpointRequest(0, (), note).to_bytes())


@pytest.mark.parametrize(
    ("line", "replacement"), [(1, b"4"), (2, base64.b64encode(bytes(32)))], ids=["size", "root"]
)
def test_tampered_note_refused(
    witness: Witness, store: InMemoryWitnessStore, line: int, replacement: bytes
) -> None:
    log = Log().grow_to(3)
    lines = log.note.split(b"\n")
    lines[line] = replacement
    tampered = AddCheckpointRequest(0, (), b"\n".join(lines)).to_bytes()
    with pytest.raises(SignatureInvalid):
        witness.add_checkpoint(tampered)
    assert store.latest(ORIGIN) is None


def test_extra_signatures_on_the_note_are_ignored(witness: Witness) -> None:
    log = Log().grow_to(3)
    stranger = key(13, "stranger.test/w", "stranger", KeyRole.WITNESS)
    note = log.note + sign_note(log.checkpoint.body(), stranger).rpartition(b"\n\n")[2]
    line = witness.add_checkpoint(AddCheckpointRequest(0, (), note).to_bytes())
    verify_cosignature(log.checkpoint, line, WITNESS)


def test_checkpoint_with_extension_lines_rejected(witness: Witness) -> None:
    log = Log().grow_to(3)
    note = sign_note(log.checkpoint.body() + b"extension\n", LOG_KEY)
    with pytest.raises(CheckpointMalformed):
        witness.add_checkpoint(AddCheckpointRequest(0, (), note).to_bytes())


def test_witness_key_must_have_the_witness_role() -> None:
    with pytest.raises(ConfigurationError):
        Witness(LOG_KEY, {}, InMemoryWitnessStore(), lambda: NOW)


def test_witness_publishes_its_verifier_key(witness: Witness) -> None:
    assert witness.verifier == WITNESS


# -- request framing ----------------------------------------------------------------------------


def test_request_round_trips() -> None:
    log = Log().grow_to(5)
    request = AddCheckpointRequest(3, tuple(log.ledger.consistency(3, 5)), log.note)
    body = request.to_bytes()
    assert body.startswith(b"old 3\n")
    assert b"\n\n" + log.note in body
    assert AddCheckpointRequest.parse(body) == request


def test_request_without_proof_has_the_empty_line_right_after_old() -> None:
    assert AddCheckpointRequest(0, (), b"x\n").to_bytes() == b"old 0\n\nx\n"


H = base64.b64encode(bytes(32))
NOTE = b"custody.test/log/2026\n1\n" + H + b"\n\n\xe2\x80\x94 k AAAA\n"


@pytest.mark.parametrize(
    "body",
    [
        b"old 0\n" + NOTE,  # no empty line
        b"old 01\n\n" + NOTE,  # leading zero
        b"old -1\n\n" + NOTE,
        b"old  1\n\n" + NOTE,
        b"Old 1\n\n" + NOTE,
        b"old 1 \n\n" + NOTE,
        b"old\n\n" + NOTE,
        b"old 9223372036854775808\n\n" + NOTE,  # 2^63
        b"old 1\r\n\n" + NOTE,
        b"\nold 0\n\n" + NOTE,
        b"old 1\nnot base64!\n\n" + NOTE,
        b"old 1\n" + base64.b64encode(bytes(31)) + b"\n\n" + NOTE,  # not a 32-byte hash
        b"old 1\n" + H.rstrip(b"=") + b"\n\n" + NOTE,  # unpadded
        b"old 1\n" + H[:-2] + b"B=\n\n" + NOTE,  # non-canonical trailing bits
        b"old 1\n" + (H + b"\n") * (MAX_PROOF_LINES + 1) + b"\n" + NOTE,
        b"old 0\n\n" + NOTE + b"x" * MAX_REQUEST_BYTES,
    ],
    ids=[
        "no-empty-line",
        "leading-zero",
        "negative",
        "two-spaces",
        "capital",
        "trailing-space",
        "no-size",
        "size-2^63",
        "crlf",
        "leading-blank",
        "proof-not-base64",
        "proof-31-bytes",
        "proof-unpadded",
        "proof-non-canonical",
        "64-proof-lines",
        "too-large",
    ],
)
def test_malformed_request_rejected(witness: Witness, body: bytes) -> None:
    with pytest.raises(InputError):
        witness.add_checkpoint(body)


def test_63_proof_lines_are_accepted_as_framing() -> None:
    body = b"old 1\n" + (H + b"\n") * MAX_PROOF_LINES + b"\n" + NOTE
    assert len(AddCheckpointRequest.parse(body).proof) == MAX_PROOF_LINES


def test_largest_old_size_is_accepted_as_framing() -> None:
    assert AddCheckpointRequest.parse(b"old 9223372036854775807\n\nx").old_size == 2**63 - 1


@pytest.mark.parametrize(
    "note", [b"", b"custody.test/log/2026", b"\xff\xfe\n1\n"], ids=["empty", "one-line", "utf-8"]
)
def test_note_without_an_origin_line_is_malformed(witness: Witness, note: bytes) -> None:
    with pytest.raises(NoteMalformed):
        witness.add_checkpoint(b"old 0\n\n" + note)


def _grown_log() -> tuple[bytes, bytes]:
    """The first request (old 0, size 4) and a valid second one (old 4, size 6)."""
    log = Log().grow_to(4)
    first = log.request(0)
    return first, log.grow_to(6).request(4)


FIRST, SECOND = _grown_log()


def test_the_fuzzed_request_is_valid() -> None:
    witness = _witness()
    witness.add_checkpoint(FIRST)
    witness.add_checkpoint(SECOND)


@settings(max_examples=200, database=None, derandomize=True)
@given(position=st.integers(0, 10**6), value=st.integers(0, 255))
def test_any_changed_byte_of_a_request_fails_cleanly(position: int, value: int) -> None:
    witness = _witness()
    witness.add_checkpoint(FIRST)
    body = bytearray(SECOND)
    position %= len(body)
    if body[position] == value:
        return
    body[position] = value
    with pytest.raises(CustodyError):
        witness.add_checkpoint(bytes(body))


@settings(max_examples=200, database=None, derandomize=True)
@given(body=st.binary(max_size=300))
def test_request_parser_raises_only_custody_errors(body: bytes) -> None:
    with contextlib.suppress(CustodyError):
        _witness().add_checkpoint(body)
