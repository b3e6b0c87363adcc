"""fleet_manager.reports.case_codes: the code and passphrase a reporter keeps, as typed back."""

from __future__ import annotations

import hashlib
import re

import pytest

from fleet_manager.reports.case_codes import (
    ALPHABET,
    CaseCredentials,
    code_digest,
    new_credentials,
    normalize_code,
    normalize_passphrase,
)


def test_alphabet_is_crockford() -> None:
    assert len(ALPHABET) == len(set(ALPHABET)) == 32
    assert not set("ILOU") & set(ALPHABET)


def test_new_credentials_shape() -> None:
    # Many draws: a generator that sometimes emits a character outside the alphabet shows here.
    for _ in range(200):
        creds = new_credentials()
        assert len(creds.code) == 8
        assert all(c in ALPHABET for c in creds.code)
        assert re.fullmatch(r"[0-9]{12}", creds.passphrase)
        # What was handed out reads back as itself.
        assert normalize_code(creds.code_shown) == creds.code
        assert normalize_passphrase(creds.passphrase_shown) == creds.passphrase


def test_new_credentials_differ() -> None:
    drawn = [new_credentials() for _ in range(50)]
    assert len({c.code for c in drawn}) == 50
    assert len({c.passphrase for c in drawn}) == 50


@pytest.mark.parametrize(
    ("creds", "code_shown", "passphrase_shown"),
    [
        pytest.param(
            CaseCredentials("ABCD1234", "123456789012"), "ABCD-1234", "1234 5678 9012", id="plain"
        ),
        pytest.param(
            CaseCredentials("00000000", "000000000000"), "0000-0000", "0000 0000 0000", id="zeros"
        ),
    ],
)
def test_shown_forms(creds: CaseCredentials, code_shown: str, passphrase_shown: str) -> None:
    assert creds.code_shown == code_shown
    assert creds.passphrase_shown == passphrase_shown


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        pytest.param("ABCD-EFGH", "ABCDEFGH", id="as-shown"),
        pytest.param("ABCDEFGH", "ABCDEFGH", id="no-dash"),
        pytest.param("abcd-efgh", "ABCDEFGH", id="lower-case"),
        pytest.param("aBcD eFgH", "ABCDEFGH", id="space"),
        pytest.param("  ab cd - ef gh  ", "ABCDEFGH", id="spaces-and-dash"),
        pytest.param("AB\tCD-EF\tGH", "ABCDEFGH", id="tabs"),
        pytest.param("A-B-C-D-E-F-G-H", "ABCDEFGH", id="many-dashes"),
        pytest.param("IIII-LLLL", "11111111", id="I-and-L-read-as-1"),
        pytest.param("iiii-llll", "11111111", id="lower-i-and-l"),
        pytest.param("OOOO-oooo", "00000000", id="O-read-as-0"),
        pytest.param("UUUU-uuuu", "VVVVVVVV", id="U-read-as-V"),
        pytest.param("0123-4567", "01234567", id="digits"),
        pytest.param("WXYZ-VTSR", "WXYZVTSR", id="end-of-alphabet"),
        pytest.param("ABCD-EFG", None, id="seven"),
        pytest.param("ABCD-EFGHJ", None, id="nine"),
        pytest.param("", None, id="empty"),
        pytest.param("--------", None, id="only-dashes"),
        pytest.param("ABCD_EFGH", None, id="underscore"),
        pytest.param("ABCD.EFGH", None, id="dot"),
        pytest.param("ABCD-EFG!", None, id="punctuation"),
        pytest.param("ABCD-EFGÉ", None, id="accented"),
        pytest.param("АВСD-EFGH", None, id="cyrillic-lookalikes"),
        pytest.param("١٢٣٤-٥٦٧٨", None, id="arabic-indic-digits"),
    ],
)
def test_normalize_code(typed: str, expected: str | None) -> None:
    assert normalize_code(typed) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        pytest.param("123456789012", "123456789012", id="digits"),
        pytest.param("1234 5678 9012", "123456789012", id="as-shown"),
        pytest.param(" 1234-5678-9012 ", "123456789012", id="dashes"),
        pytest.param("1234\t5678\t9012", "123456789012", id="tabs"),
        pytest.param("١٢٣٤ ٥٦٧٨ ٩٠١٢", "123456789012", id="arabic-indic"),
        pytest.param("٠١٢٣٤٥٦٧٨٩٠٠", "012345678900", id="arabic-indic-every-digit"),
        pytest.param("۱۲۳۴۵۶۷۸۹۰۱۲", "123456789012", id="persian"),
        pytest.param("１２３４５６７８９０１２", "123456789012", id="fullwidth"),
        pytest.param("1234 ٥٦٧٨ 9012", "123456789012", id="mixed-scripts"),
        pytest.param("12345678901", None, id="eleven"),
        pytest.param("1234567890123", None, id="thirteen"),
        pytest.param("", None, id="empty"),
        pytest.param("1234 5678 901a", None, id="letter"),
        pytest.param("ABCD EFGH IJKL", None, id="letters"),
        pytest.param("1234.5678.9012", None, id="dots"),
        pytest.param("²" * 12, None, id="superscripts-are-not-digits-typed"),
    ],
)
def test_normalize_passphrase(typed: str, expected: str | None) -> None:
    assert normalize_passphrase(typed) == expected


def test_code_digest_stable_and_distinct() -> None:
    digest = code_digest("ABCDEFGH")
    assert digest == code_digest("ABCDEFGH")
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest != code_digest("ABCDEFGJ")
    assert digest != code_digest("abcdefgh")
    # Domain-separated: not the bare SHA-256 of the code.
    assert digest != hashlib.sha256(b"ABCDEFGH").hexdigest()


def test_code_digest_of_typed_variants_match_after_normalizing() -> None:
    typed = ["abcd-efgh", "ABCD EFGH", "ABCDEFGH"]
    digests = {code_digest(normalize_code(t) or "") for t in typed}
    assert digests == {code_digest("ABCDEFGH")}
