"""fleet_manager.reports.disclosure: may a responder disclose a report to this recipient?

The whole table: every recipient × the reporter's answer × legal basis (or none) × a stated or
missing purpose.
"""

from __future__ import annotations

import itertools

import pytest

from fleet_manager.reports.disclosure import (
    LEGAL_BASES,
    RECIPIENTS,
    LegalBasis,
    Recipient,
    decide_disclosure,
)
from fleet_manager.reports.submission import SHARES, Share

PURPOSES = ("", "   \t", "safety planning")


def expected_allowed(
    consent: Share, recipient: Recipient, basis: LegalBasis | None, purpose: str
) -> bool:
    """The rule in words, written separately from the code under test."""
    if not purpose.strip():
        return False  # every disclosure says why
    if recipient != "law_enforcement":
        return True
    return consent == "yes" or basis is not None


CASES = [
    pytest.param(c, r, b, p, id=f"{r}-{c}-{b or 'no-basis'}-{'purpose' if p.strip() else repr(p)}")
    for c, r, b, p in itertools.product(SHARES, RECIPIENTS, (None, *LEGAL_BASES), PURPOSES)
]


def test_table_is_complete() -> None:
    assert set(SHARES) == {"yes", "no", "unsure", "unanswered"}
    assert set(RECIPIENTS) == {
        "law_enforcement",
        "victim_services",
        "medical",
        "legal_aid",
        "other",
    }
    assert set(LEGAL_BASES) == {"imminent_danger", "child_mandated_report", "court_order"}
    assert len(CASES) == 4 * 5 * 4 * 3


@pytest.mark.parametrize(("consent", "recipient", "basis", "purpose"), CASES)
def test_decide_disclosure(
    consent: Share, recipient: Recipient, basis: LegalBasis | None, purpose: str
) -> None:
    decision = decide_disclosure(consent, recipient, basis, purpose)
    assert decision.allowed is expected_allowed(consent, recipient, basis, purpose)
    assert decision.reason
    if not purpose.strip():
        assert "--purpose" in decision.reason
    elif recipient == "law_enforcement" and consent != "yes":
        if basis is None:
            # The refusal names the reporter's answer and the way to proceed.
            assert repr(consent) in decision.reason
            assert "--legal-basis" in decision.reason
        else:
            # The override is stated with its basis (it goes into the audit log).
            assert basis in decision.reason
            assert consent in decision.reason


@pytest.mark.parametrize(
    ("consent", "recipient", "basis", "purpose", "allowed"),
    [
        # A few rows written out, so the rule is readable without the helper above.
        pytest.param("yes", "law_enforcement", None, "tip", True, id="consented"),
        pytest.param("no", "law_enforcement", None, "tip", False, id="refused-consent"),
        pytest.param("unsure", "law_enforcement", None, "tip", False, id="unsure-is-not-yes"),
        pytest.param("unanswered", "law_enforcement", None, "tip", False, id="silence-is-not-yes"),
        pytest.param("no", "law_enforcement", "imminent_danger", "x", True, id="danger-overrides"),
        pytest.param("no", "law_enforcement", "court_order", "x", True, id="court-order"),
        pytest.param("no", "medical", None, "treatment", True, id="medical-with-purpose"),
        pytest.param("yes", "medical", None, "", False, id="medical-without-purpose"),
        pytest.param("yes", "law_enforcement", "court_order", " ", False, id="basis-needs-purpose"),
    ],
)
def test_decide_disclosure_examples(
    consent: Share, recipient: Recipient, basis: LegalBasis | None, purpose: str, allowed: bool
) -> None:
    assert decide_disclosure(consent, recipient, basis, purpose).allowed is allowed
