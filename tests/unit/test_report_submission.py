"""fleet_manager.reports.submission: reading the report and addition forms, and the sealed JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleet_manager.reports.submission import (
    ADDITION_FIELDS,
    REPORT_FIELDS,
    SHORT_LIMIT,
    TEXT_LIMIT,
    AdditionRequest,
    FormData,
    FormProblem,
    ReportContent,
    Share,
    addition_content,
    parse_addition,
    parse_report,
)

NOW = 1_800_000_000.0


def report(**fields: Any) -> ReportContent:
    return ReportContent(kind="report", language="es", submitted_at=NOW, **fields)


def test_limits_are_the_documented_ones() -> None:
    assert (TEXT_LIMIT, SHORT_LIMIT) == (4000, 200)
    assert REPORT_FIELDS["what"] == TEXT_LIMIT
    assert REPORT_FIELDS["contact_method"] == REPORT_FIELDS["contact_time"] == SHORT_LIMIT
    assert ADDITION_FIELDS["text"] == TEXT_LIMIT


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        pytest.param({}, report(), id="empty-form-is-an-empty-report"),
        pytest.param(
            {"what": [""], "contact_method": [""], "share": [""], "do_not_contact": [""]},
            report(),
            id="all-blank",
        ),
        pytest.param({"what": ["  \n  "]}, report(), id="whitespace-only"),
        pytest.param({"what": ["help"]}, report(what="help"), id="what"),
        pytest.param({"what": ["  help \n"]}, report(what="help"), id="stripped"),
        pytest.param(
            {"contact_method": ["the blue phone"], "contact_time": ["after 6pm"]},
            report(contact_method="the blue phone", contact_time="after 6pm"),
            id="contact",
        ),
        pytest.param(
            {"what": ["a" * TEXT_LIMIT]}, report(what="a" * TEXT_LIMIT), id="what-at-limit"
        ),
        pytest.param(
            {"what": ["a" * TEXT_LIMIT + "   "]},
            report(what="a" * TEXT_LIMIT),
            id="what-at-limit-plus-trailing-space",
        ),
        pytest.param(
            {"what": ["a\r\n" * 2000]},
            report(what=("a\n" * 2000).strip()),
            id="crlf-counted-as-one",
        ),
        pytest.param(
            {"contact_method": ["m" * SHORT_LIMIT]},
            report(contact_method="m" * SHORT_LIMIT),
            id="contact-method-at-limit",
        ),
        pytest.param(
            {"contact_time": ["t" * SHORT_LIMIT]},
            report(contact_time="t" * SHORT_LIMIT),
            id="contact-time-at-limit",
        ),
        pytest.param({"l": ["x" * 16]}, report(), id="l-at-limit"),
        pytest.param(
            {"what": ["é" * TEXT_LIMIT]}, report(what="é" * TEXT_LIMIT), id="chars-not-bytes"
        ),
        pytest.param({"share": ["yes"]}, report(share_with_law_enforcement="yes"), id="share-yes"),
        pytest.param({"share": ["no"]}, report(share_with_law_enforcement="no"), id="share-no"),
        pytest.param(
            {"share": ["unsure"]}, report(share_with_law_enforcement="unsure"), id="share-unsure"
        ),
        pytest.param({"share": [""]}, report(), id="share-empty-unanswered"),
        pytest.param({"share": ["unanswered"]}, report(), id="share-unanswered"),
        pytest.param({"do_not_contact": ["on"]}, report(do_not_contact=True), id="dnc-on"),
        pytest.param({"do_not_contact": ["yes"]}, report(do_not_contact=True), id="dnc-yes"),
        pytest.param({"do_not_contact": ["1"]}, report(do_not_contact=True), id="dnc-1"),
        pytest.param({"do_not_contact": [""]}, report(), id="dnc-empty"),
        pytest.param(
            {"what": ["x"], "token": ["abc"], "submit": ["Send"], "csrf": ["a", "b"]},
            report(what="x"),
            id="unknown-fields-ignored-even-twice",
        ),
        pytest.param(
            {"what": ["a\x00b\x07c\x1bd\x7fe\x85f"]}, report(what="abcdef"), id="controls-dropped"
        ),
        pytest.param(
            {"what": ["a\r\nb\rc\nd"]}, report(what="a\nb\nc\nd"), id="newlines-normalised"
        ),
        pytest.param({"what": ["a\tb"]}, report(what="a\tb"), id="tab-kept"),
        pytest.param({"what": ["مرحبا 你好 👋"]}, report(what="مرحبا 你好 👋"), id="unicode-kept"),
        pytest.param(
            {"what": ["a" * TEXT_LIMIT + "\x00" * 50]},
            report(what="a" * TEXT_LIMIT),
            id="limit-counts-after-cleaning",
        ),
    ],
)
def test_parse_report_accepted(form: FormData, expected: ReportContent) -> None:
    assert parse_report(form, "es", NOW) == expected


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        pytest.param(
            {"what": ["a" * (TEXT_LIMIT + 1)]},
            FormProblem("too_long", "what", TEXT_LIMIT),
            id="what-one-over",
        ),
        pytest.param(
            {"contact_method": ["m" * (SHORT_LIMIT + 1)]},
            FormProblem("too_long", "contact_method", SHORT_LIMIT),
            id="contact-method-one-over",
        ),
        pytest.param(
            {"contact_time": ["t" * (SHORT_LIMIT + 1)]},
            FormProblem("too_long", "contact_time", SHORT_LIMIT),
            id="contact-time-one-over",
        ),
        pytest.param(
            {"share": ["x" * 17]}, FormProblem("too_long", "share", 16), id="share-one-over"
        ),
        pytest.param(
            {"do_not_contact": ["x" * 9]},
            FormProblem("too_long", "do_not_contact", 8),
            id="dnc-one-over",
        ),
        pytest.param({"l": ["x" * 17]}, FormProblem("too_long", "l", 16), id="l-one-over"),
        pytest.param({"share": ["maybe"]}, FormProblem("bad_form", "share"), id="share-other"),
        pytest.param({"share": ["YES"]}, FormProblem("bad_form", "share"), id="share-case"),
        pytest.param({"share": ["Sí"]}, FormProblem("bad_form", "share"), id="share-translated"),
        pytest.param(
            {"do_not_contact": ["no"]}, FormProblem("bad_form", "do_not_contact"), id="dnc-no"
        ),
        pytest.param(
            {"do_not_contact": ["off"]}, FormProblem("bad_form", "do_not_contact"), id="dnc-off"
        ),
        pytest.param(
            {"do_not_contact": ["0"]}, FormProblem("bad_form", "do_not_contact"), id="dnc-0"
        ),
        pytest.param(
            {"do_not_contact": ["true"]}, FormProblem("bad_form", "do_not_contact"), id="dnc-true"
        ),
        pytest.param({"what": ["a", "b"]}, FormProblem("bad_form", "what"), id="what-twice"),
        pytest.param({"share": ["yes", "yes"]}, FormProblem("bad_form", "share"), id="share-twice"),
        pytest.param({"what": []}, FormProblem("bad_form", "what"), id="what-no-value"),
        pytest.param(
            {"what": ["a" * (TEXT_LIMIT + 1)], "share": ["maybe"]},
            FormProblem("too_long", "what", TEXT_LIMIT),
            id="first-problem-in-form-order",
        ),
    ],
)
def test_parse_report_refused(form: FormData, expected: FormProblem) -> None:
    assert parse_report(form, "es", NOW) == expected


@pytest.mark.parametrize(
    ("problem", "says"),
    [
        pytest.param(
            FormProblem("too_long", "what", 4000),
            "field 'what' is longer than 4000 characters",
            id="too-long",
        ),
        pytest.param(FormProblem("empty", "text"), "nothing to add", id="empty"),
        pytest.param(FormProblem("bad_form", "share"), "field 'share' cannot be read", id="field"),
        pytest.param(FormProblem("bad_form"), "the form cannot be read", id="whole-form"),
    ],
)
def test_form_problem_describe(problem: FormProblem, says: str) -> None:
    assert problem.describe() == says


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        pytest.param({}, FormProblem("empty", "text"), id="empty-form"),
        pytest.param(
            {"code": ["ABCD-EFGH"], "passphrase": ["1234"], "text": [""]},
            FormProblem("empty", "text"),
            id="empty-text",
        ),
        pytest.param(
            {"code": ["ABCD-EFGH"], "text": [" \r\n\x00 "]},
            FormProblem("empty", "text"),
            id="text-only-blank-and-controls",
        ),
        pytest.param(
            {"code": ["ABCD-EFGH"], "passphrase": ["1234 5678 9012"], "text": ["more"]},
            AdditionRequest("ABCD-EFGH", "1234 5678 9012", "more"),
            id="addition",
        ),
        pytest.param(
            {"text": ["more"]}, AdditionRequest("", "", "more"), id="no-code-left-to-the-caller"
        ),
        pytest.param(
            {"code": ["c" * 32], "passphrase": ["p" * 40], "text": ["t" * TEXT_LIMIT]},
            AdditionRequest("c" * 32, "p" * 40, "t" * TEXT_LIMIT),
            id="every-field-at-limit",
        ),
        pytest.param(
            {"code": ["c" * 33], "text": ["x"]},
            FormProblem("too_long", "code", 32),
            id="code-one-over",
        ),
        pytest.param(
            {"passphrase": ["p" * 41], "text": ["x"]},
            FormProblem("too_long", "passphrase", 40),
            id="passphrase-one-over",
        ),
        pytest.param(
            {"text": ["t" * (TEXT_LIMIT + 1)]},
            FormProblem("too_long", "text", TEXT_LIMIT),
            id="text-one-over",
        ),
        pytest.param({"text": ["a", "b"]}, FormProblem("bad_form", "text"), id="text-twice"),
        pytest.param(
            {"code": ["A", "B"], "text": ["x"]}, FormProblem("bad_form", "code"), id="code-twice"
        ),
        pytest.param(
            {"text": ["x"], "what": ["ignored"], "share": ["maybe"]},
            AdditionRequest("", "", "x"),
            id="report-fields-ignored",
        ),
        pytest.param({"text": ["a\r\nb\x00"]}, AdditionRequest("", "", "a\nb"), id="text-cleaned"),
    ],
)
def test_parse_addition(form: FormData, expected: AdditionRequest | FormProblem) -> None:
    assert parse_addition(form) == expected


def test_addition_content() -> None:
    assert addition_content("more", "ar", NOW) == ReportContent(
        kind="addition", language="ar", submitted_at=NOW, what="more"
    )


SHARES: tuple[Share, ...] = ("yes", "no", "unsure", "unanswered")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(report(), id="empty"),
        pytest.param(
            ReportContent(
                kind="report",
                language="zh-Hans",
                submitted_at=NOW + 0.125,
                what='他们拿走了我的护照\nمساعدة 👋 "quoted" \\ back',
                contact_method="WhatsApp ☎",
                contact_time="después de las 6",
                do_not_contact=True,
                share_with_law_enforcement="unsure",
            ),
            id="unicode-everything",
        ),
        pytest.param(addition_content("more", "ar", NOW), id="addition"),
        *[pytest.param(report(share_with_law_enforcement=s), id=f"share-{s}") for s in SHARES],
    ],
)
def test_content_round_trip(content: ReportContent) -> None:
    assert ReportContent.from_bytes(content.to_bytes()) == content


def test_to_bytes_is_utf8_json_not_escaped() -> None:
    # ensure_ascii=False: the sealed bytes are compact UTF-8, not \\u escapes.
    data = report(what="é 你").to_bytes()
    assert "é 你".encode() in data
    assert json.loads(data)["what"] == "é 你"


def test_from_bytes_ignores_unknown_keys() -> None:
    raw = json.loads(report(what="x").to_bytes())
    raw["added_in_a_later_version"] = {"anything": [1, 2]}
    assert ReportContent.from_bytes(json.dumps(raw).encode()) == report(what="x")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"[]", id="list"),
        pytest.param(b'"text"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b"not json", id="not-json"),
    ],
)
def test_from_bytes_refuses_non_objects(data: bytes) -> None:
    with pytest.raises(ValueError):
        ReportContent.from_bytes(data)
