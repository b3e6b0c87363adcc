"""The pure rules of enrolment, renewal, CRL freshness and the audit chain, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from device.agent import tls_store
from device.agent.renewal import renewal_due
from fleet_manager.enrolment import tokens
from fleet_manager.enrolment.crl_refresh import refresh_due
from fleet_manager.enrolment.csr_check import CsrAccepted, CsrRefused
from fleet_manager.enrolment.decision import (
    Hold,
    Issue,
    Refuse,
    decide_enrolment,
    decide_renewal,
    new_device_id,
)
from fleet_manager.store import audit_log
from fleet_manager.store.database import migrate, open_engine
from fleet_manager.store.schema import audit_log as audit_table
from protocol.identities import is_device_id

ACCEPTED = CsrAccepted(csr=None)  # type: ignore[arg-type]  # the rules never look inside
WEAK = CsrRefused("weak_key", "too weak")


def test_new_tokens_are_grouped_typable_and_normalise_to_themselves() -> None:
    token = tokens.new_token()
    assert len(token) == 24 and token.count("-") == 4
    assert tokens.normalise(token) == token.replace("-", "")
    assert tokens.new_token() != token


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("abcd-efgh-jkmn-pqrs-tvwx", "ABCDEFGHJKMNPQRSTVWX"),
        ("ABCD EFGH JKMN PQRS TVWX", "ABCDEFGHJKMNPQRSTVWX"),
        ("oOiI-lL00-1111-2222-3333", "00111100111122223333"),  # O→0, I/L→1
        ("ABCD-EFGH-JKMN-PQRS-TVW", None),  # one short
        ("ABCD-EFGH-JKMN-PQRS-TVWXY", None),  # one long
        ("ABCD-EFGH-JKMN-PQRS-TVWU", None),  # U is not in the alphabet
        ("", None),
    ],
)
def test_token_normalisation(typed: str, canonical: str | None) -> None:
    assert tokens.normalise(typed) == canonical
    assert (tokens.token_hash(typed) is None) == (canonical is None)


@pytest.mark.parametrize(
    ("facts", "now", "state"),
    [
        (None, 100.0, "unknown"),
        (tokens.TokenFacts("loc", 200.0, None), 100.0, "valid"),
        (tokens.TokenFacts("loc", 200.0, None), 200.0, "expired"),
        (tokens.TokenFacts("loc", 200.0, 150.0), 160.0, "used"),
        (tokens.TokenFacts("loc", 200.0, 150.0), 300.0, "used"),
    ],
)
def test_token_state(facts: tokens.TokenFacts | None, now: float, state: str) -> None:
    assert tokens.token_state(facts, now) == state


@pytest.mark.parametrize(
    ("token", "csr", "approval", "outcome"),
    [
        ("valid", ACCEPTED, False, Issue()),
        ("valid", ACCEPTED, True, Hold()),
        ("valid", WEAK, False, Refuse("weak_key", "too weak")),
        ("valid", WEAK, True, Refuse("weak_key", "too weak")),
        ("used", ACCEPTED, False, "token_used"),
        ("expired", ACCEPTED, False, "token_expired"),
        ("unknown", WEAK, False, "token_unknown"),  # the token is checked first
    ],
)
def test_enrolment_decision(token: str, csr: object, approval: bool, outcome: object) -> None:
    decided = decide_enrolment(token, csr, approval)  # type: ignore[arg-type]
    if isinstance(outcome, str):
        assert isinstance(decided, Refuse) and decided.reason == outcome
    else:
        assert decided == outcome


@pytest.mark.parametrize(
    ("lifecycle", "csr", "reason"),
    [
        ("active", ACCEPTED, None),
        ("active", WEAK, "weak_key"),
        ("revoked", ACCEPTED, "device_revoked"),
        ("decommissioned", ACCEPTED, "device_decommissioned"),
        (None, ACCEPTED, "device_unknown"),
    ],
)
def test_renewal_decision(lifecycle: str | None, csr: object, reason: str | None) -> None:
    decided = decide_renewal(lifecycle, csr)  # type: ignore[arg-type]
    if reason is None:
        assert decided == Issue()
    else:
        assert isinstance(decided, Refuse) and decided.reason == reason


def test_device_ids_are_valid_and_random() -> None:
    ids = {new_device_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(is_device_id(i) for i in ids)


@pytest.mark.parametrize(
    ("now", "due"),
    [(0, False), (59.9, False), (60, True), (89, True), (95, True)],
)
def test_renewal_is_due_at_two_thirds_of_life(now: float, due: bool) -> None:
    assert renewal_due(0.0, 90.0, now) is due


T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("next_update", "now", "due"),
    [
        (T0 + timedelta(days=7), T0 + timedelta(days=1), False),
        (T0 + timedelta(days=7), T0 + timedelta(days=3.5), True),
        (T0 + timedelta(days=7), T0 + timedelta(days=8), True),
        (None, T0, True),
    ],
)
def test_crl_refresh_at_half_its_validity(
    next_update: datetime | None, now: datetime, due: bool
) -> None:
    assert refresh_due(T0, next_update, now) is due


def test_audit_chain_detects_an_edited_entry(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    migrate(engine)
    with engine.begin() as conn:
        for i in range(4):
            audit_log.record(
                conn, at=float(i), actor="cli:dana", action="x", subject=f"s{i}", outcome="ok"
            )
        assert audit_log.verify_chain(conn) is None
        conn.execute(audit_table.update().where(audit_table.c.seq == 3).values(subject="other"))
        assert audit_log.verify_chain(conn) == 3
        conn.execute(audit_table.update().where(audit_table.c.seq == 3).values(subject="s2"))
        assert audit_log.verify_chain(conn) is None
        conn.execute(audit_table.delete().where(audit_table.c.seq == 2))
        assert audit_log.verify_chain(conn) == 3
    with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
        # A second entry on the same predecessor would fork the chain.
        conn.execute(
            audit_table.insert().values(
                at=9.0, actor="a", action="b", subject="c", outcome="ok", detail={},
                prev_hash=audit_log.GENESIS, hash="f" * 64,
            )
        )  # fmt: skip
    engine.dispose()


@pytest.mark.parametrize(
    ("staged", "marker", "moved", "key_after"),
    [
        ({}, False, False, b"old-key"),  # nothing staged
        ({"key.pem": b"new-key", "cert.pem": b"new-cert"}, False, False, b"old-key"),  # torn
        ({"key.pem": b"new-key", "cert.pem": b"new-cert"}, True, True, b"new-key"),
        ({"cert.pem": b"new-cert"}, True, True, b"new-key"),  # crashed after moving the key
    ],
    ids=["nothing", "incomplete-staging", "complete-staging", "half-swapped"],
)
def test_tls_swap_recovery_rolls_forward_only_complete_pairs(
    tmp_path: Path, staged: dict[str, bytes], marker: bool, moved: bool, key_after: bytes
) -> None:
    (tmp_path / "key.pem").write_bytes(
        b"new-key" if "key.pem" not in staged and marker else b"old-key"
    )
    (tmp_path / "cert.pem").write_bytes(b"old-cert")
    if staged or marker:
        (tmp_path / "next").mkdir()
        for name, data in staged.items():
            (tmp_path / "next" / name).write_bytes(data)
        if marker:
            (tmp_path / "next" / "complete").write_bytes(b"")
    assert tls_store.recover(tmp_path) is moved
    assert (tmp_path / "key.pem").read_bytes() == key_after
    assert (tmp_path / "cert.pem").read_bytes() == (b"new-cert" if moved else b"old-cert")
    assert not (tmp_path / "next").exists()


def test_replacing_key_and_certificate_keeps_the_key_private(tmp_path: Path) -> None:
    tls_store.replace_key_and_certificate(tmp_path, b"k", b"c")
    assert (tmp_path / "key.pem").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "cert.pem").read_bytes() == b"c"
