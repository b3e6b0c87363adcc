"""The console registry area's pure rules, as tables: token lives, form fields, sticker
languages, a location's QR state and how a revocation's outcome is told."""

from __future__ import annotations

import pytest

from fleet_manager.registry_admin.rules import (
    CutOffFacts,
    FormProblem,
    checked,
    clean_reason,
    optional_text,
    parse_grace,
    parse_sticker_languages,
    parse_token_ttl,
    qr_summary,
    revocation_outcome,
    token_ttl_problem,
)
from fleet_manager.store.registry import TokenRecord

DAY = 86_400.0


@pytest.mark.parametrize(
    ("ttl_s", "ok"),
    [(59, False), (60, True), (3600, True), (7 * DAY, True), (7 * DAY + 1, False), (0, False)],
)
def test_token_life_bounds(ttl_s: float, ok: bool) -> None:
    assert (token_ttl_problem(ttl_s) is None) is ok


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1h", 3600.0), ("24h", DAY), ("7d", 7 * DAY), ("90", 90.0), ("1w", 7 * DAY)],
)
def test_token_life_from_a_form(text: str, expected: float) -> None:
    assert parse_token_ttl(text) == expected


@pytest.mark.parametrize("text", ["30s", "8d", "soon", "", "-1h", "1e9"])
def test_token_life_refused(text: str) -> None:
    with pytest.raises(FormProblem):
        parse_token_ttl(text)


@pytest.mark.parametrize(
    ("text", "expected"), [("0", 0.0), ("7d", 7 * DAY), ("", 30 * DAY), ("12h", 43_200.0)]
)
def test_grace_from_a_form(text: str, expected: float) -> None:
    assert parse_grace(text) == expected


def test_grace_refused() -> None:
    with pytest.raises(FormProblem):
        parse_grace("forever")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("   ", None), ("2", "2"), (" B1", " B1")],
)
def test_optional_text(value: str | None, expected: str | None) -> None:
    assert optional_text(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, False), ("", False), ("off", False), ("0", False), ("on", True), ("yes", True)],
)
def test_checkbox(value: str | None, expected: bool) -> None:
    assert checked(value) is expected


KNOWN = ("en", "es", "zh-Hans", "ar")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("en", ("en",)),
        ("en, es,ar", ("en", "es", "ar")),
        ("es,en,es", ("es", "en")),
        ("zh-Hans", ("zh-Hans",)),
    ],
)
def test_sticker_languages(text: str, expected: tuple[str, ...]) -> None:
    assert parse_sticker_languages(text, KNOWN) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "at least one"),
        (" , ", "at least one"),
        ("fr", "no sticker text in fr"),
        ("en,<b>", "not a language code"),
        (",".join(["en"] * 3 + [f"x{i:02}" for i in range(13)]), "at most"),
    ],
)
def test_sticker_languages_refused(text: str, says: str) -> None:
    with pytest.raises(FormProblem, match=says):
        parse_sticker_languages(text, KNOWN)


def rec(
    token: str, created: float, retired: float | None = None, until: float | None = None
) -> TokenRecord:
    return TokenRecord(token, "loc", created, retired, until)


@pytest.mark.parametrize(
    ("history", "now", "state", "working", "until"),
    [
        ([rec("t1", 10)], 100, "active", 0, None),
        ([rec("t0", 0, 50, 150), rec("t1", 50)], 100, "rotating", 1, 150),
        ([rec("t0", 0, 50, 150), rec("t1", 50)], 150, "active", 0, None),
        ([rec("t0", 0, 20, 200), rec("tx", 20, 50, 120), rec("t1", 50)], 100, "rotating", 2, 200),
        ([rec("t0", 0, 50, None), rec("t1", 50)], 60, "active", 0, None),
    ],
)
def test_qr_summary(
    history: list[TokenRecord], now: float, state: str, working: int, until: float | None
) -> None:
    summary = qr_summary("t1", history, now)
    assert (summary.state, summary.old_tokens_working, summary.old_working_until) == (
        state,
        working,
        until,
    )
    assert summary.current_since == next(r.created_at for r in history if r.token == "t1")


def test_qr_summary_of_a_location_without_history() -> None:
    assert qr_summary("t1", [], 0).current_since is None


@pytest.mark.parametrize(
    ("facts", "complete", "says"),
    [
        (CutOffFacts(3, True, True, True, ()), True, "k1 is revoked and disconnected."),
        (
            CutOffFacts(3, True, False, False, ("acl: no pid file", "kick: timeout")),
            False,
            "not done: broker reloaded",
        ),
        (
            CutOffFacts(None, False, False, False, ("crl: disk full",)),
            False,
            "certificates listed in a new CRL",
        ),
    ],
)
def test_revocation_outcome(facts: CutOffFacts, complete: bool, says: str) -> None:
    outcome = revocation_outcome("k1", "revoked", facts)
    assert outcome.complete is complete
    assert says in outcome.summary
    assert [done for _what, done in outcome.steps] == [
        facts.crl_number is not None,
        facts.reloaded,
        facts.kicked,
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stolen", "stolen"),
        ("  screen\nsmashed\x00 ", "screen smashed"),
        ("a\u202eb", "a b"),
        ("x" * 300, "x" * 200),
    ],
)
def test_clean_reason(text: str, expected: str) -> None:
    assert clean_reason(text) == expected
