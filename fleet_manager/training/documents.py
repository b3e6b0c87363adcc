"""Training documents: the certificate of completion (PDF) and the audit exports (PDF, CSV).

Pure apart from reading font files: the same input gives the same bytes (reportlab's
``invariant`` mode keeps dates and random ids out of the PDF).

Text from the database (names, facility, module titles) is set in the first installed font that
has every one of its characters: Noto Sans (Latin, Greek, Cyrillic, Vietnamese …), DejaVu Sans,
Noto Sans Arabic, Noto Sans CJK; right-to-left text is shaped and put in visual order first
(reportlab does neither). Without any of them, Helvetica (Latin-1) is used.
"""

from __future__ import annotations

import functools
import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import arabic_reshaper  # type: ignore[import-untyped]
from babel.dates import format_date
from bidi import get_display  # type: ignore[import-untyped]
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import landscape, letter  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.lib.units import inch  # type: ignore[import-untyped]
from reportlab.lib.utils import simpleSplit  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from content.fonts import FONT_FAMILIES, missing_glyphs
from fleet_manager.csv_export import Cell, to_csv
from fleet_manager.training.compliance import ComplianceRow, summary
from fleet_manager.training.rules import Rule
from provisioning.sticker_fonts import FontFace, PdfFonts

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
CSV_HEADER = (
    "username",
    "full_name",
    "facility",
    "profession",
    "licence_state",
    "licence_renewal",
    "overall_status",
    "rule",
    "rule_status",
    "due_date",
    "reason",
    "completed_modules",
    "hours_total",
)
ROW_COMPLETIONS = 25  # completions listed in one table row (a row must fit on a page)
KIND_TEXT = {
    "once": "once",
    "every_renewal": "at every licence renewal",
    "annual": "every year",
}


def long_date(day: date) -> str:
    """``March 14, 2026`` (English month names whatever the process locale)."""
    return str(format_date(day, format="long", locale="en_US"))


def hours_text(hours: float) -> str:
    """``1.0``, ``1.5``, ``1.25``: at least one decimal, at most two."""
    text = f"{round(hours, 2):.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


# -- fonts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Family:
    regular: FontFace
    bold: FontFace


@functools.cache
def _installed() -> tuple[_Family, ...]:
    """The families text may be set in, most preferred first, that are installed."""
    wanted: list[tuple[str, Path, Path, int]] = []
    for key in ("noto-sans", "noto-sans-arabic", "dejavu-sans", "noto-sans-cjk-sc"):
        if key == "dejavu-sans":
            wanted.append((key, DEJAVU / "DejaVuSans.ttf", DEJAVU / "DejaVuSans-Bold.ttf", 0))
            continue
        family = FONT_FAMILIES[key]
        wanted.append(
            (
                key,
                family.directory / family.regular,
                family.directory / family.bold,
                family.face_index,
            )
        )
    return tuple(
        _Family(FontFace(key, regular, index, False), FontFace(key, bold, index, True))
        for key, regular, bold, index in wanted
        if regular.is_file() and bold.is_file()
    )


def _visual(text: str) -> str:
    """Text with right-to-left letters shaped and in visual order (the base direction is that of
    its first strong character); other text unchanged."""
    if not any(unicodedata.bidirectional(c) in ("R", "AL") for c in text):
        return text
    return str(get_display(str(arabic_reshaper.reshape(text))))


Run = tuple[str, str]  # (reportlab font name, characters as drawn)


class _Typesetter:
    """For each text: the font(s) it is drawn in and the characters drawn (in visual order).

    Each character is set in the first family that has it (so Latin letters in a name with Han
    characters are still Noto Sans, and stay searchable), consecutive characters of one family
    forming a run. Every text must be announced up front (CJK faces are cut down to the
    characters used).
    """

    def __init__(self, texts: Iterable[str]) -> None:
        families = _installed()
        latin = ("noto-sans", "dejavu-sans")
        self._base = next((f for f in families if f.regular.family in latin), None)
        self._picked: dict[str, list[tuple[_Family | None, str]]] = {}
        announced: dict[FontFace, list[str]] = {}

        def has(family: _Family, text: str) -> bool:
            face = family.regular
            return not missing_glyphs(text, face.path, face_index=face.face_index)

        for text in set(texts):
            shown = _visual(text)
            runs: list[tuple[_Family | None, str]] = []
            for char in shown:
                family = next((f for f in families if has(f, char)), self._base)
                if runs and (runs[-1][0] == family or char.isspace()):
                    runs[-1] = (runs[-1][0], runs[-1][1] + char)
                else:
                    runs.append((family, char))
            self._picked[text] = runs
            for family, part in runs:
                if family is not None:
                    announced.setdefault(family.regular, []).append(part)
                    announced.setdefault(family.bold, []).append(part)
        # Registers each face under a name of its own, CJK faces cut down to what is drawn.
        self._fonts = PdfFonts(announced)

    def label_font(self, bold: bool = False) -> str:
        """For the document's own (ASCII) words."""
        return self._name(self._base, bold)

    def _name(self, family: _Family | None, bold: bool) -> str:
        if family is None:
            return "Helvetica-Bold" if bold else "Helvetica"
        return self._fonts.name(family.bold if bold else family.regular)

    def runs(self, text: str, bold: bool = False) -> list[Run]:
        """How an announced text is drawn: one run, or several for mixed scripts."""
        return [(self._name(family, bold), part) for family, part in self._picked[text]]

    def markup(self, text: str, bold: bool = False) -> str:
        """``text`` as Paragraph markup in its font(s)."""
        return "".join(
            f'<font name="{name}">{escape(part)}</font>' for name, part in self.runs(text, bold)
        )

    def label(self, text: str, bold: bool = False) -> str:
        return f'<font name="{self.label_font(bold)}">{escape(text)}</font>'


def _width(runs: Sequence[Run], size: float) -> float:
    return sum(float(pdfmetrics.stringWidth(text, font, size)) for font, text in runs)


# -- certificate ----------------------------------------------------------------------------------


def certificate_pdf(
    *,
    full_name: str,
    module_title: str,
    provider: str,
    completed_on: date,
    hours: float,
    certificate_id: str,
    facility_name: str,
) -> bytes:
    """A one-page landscape (US Letter) certificate of completion."""
    type_ = _Typesetter([full_name, module_title, provider, certificate_id, facility_name])
    width, height = landscape(letter)
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(width, height), invariant=1, pageCompression=1)
    pdf.setTitle("Certificate of completion")
    pdf.setCreator("Beacon training records")
    centre, usable = width / 2, width - 160

    def draw(x: float, y: float, runs: Sequence[Run], size: float) -> None:
        for font, text in runs:
            pdf.setFont(font, size)
            pdf.drawString(x, y, text)
            x += _width([(font, text)], size)

    def centred(y: float, runs: Sequence[Run], size: float) -> None:
        draw(centre - _width(runs, size) / 2, y, runs, size)

    def fitting(runs: Sequence[Run], size: float, smallest: float) -> float:
        while size > smallest and _width(runs, size) > usable:
            size -= 1
        return size

    def label(text: str, bold: bool = False) -> list[Run]:
        return [(type_.label_font(bold), text)]

    pdf.setStrokeColorRGB(0.15, 0.25, 0.45)
    pdf.setLineWidth(3)
    pdf.rect(28, 28, width - 56, height - 56)
    pdf.setLineWidth(0.8)
    pdf.rect(38, 38, width - 76, height - 76)
    pdf.setFillColorRGB(0.15, 0.25, 0.45)
    centred(height - 120, label("CERTIFICATE OF COMPLETION", bold=True), 30)
    pdf.setFillColorRGB(0.1, 0.1, 0.1)
    centred(height - 170, label("This certifies that"), 14)
    name = type_.runs(full_name, bold=True)
    centred(height - 218, name, fitting(name, 32, 14))
    pdf.setLineWidth(0.6)
    pdf.line(centre - 240, height - 228, centre + 240, height - 228)
    centred(height - 258, label("has completed the training module"), 14)
    title = type_.runs(module_title, bold=True)
    size = fitting(title, 22, 14)
    y = height - 292
    if len(title) == 1:  # one font: long titles wrap (at most three lines)
        font, text = title[0]
        for line in simpleSplit(text, font, size, usable)[:3]:
            centred(y, [(font, line)], size)
            y -= size * 1.25
    else:
        centred(y, title, size)
        y -= size * 1.25
    centred(y - 8, [*label("provided by "), *type_.runs(provider)], 14)

    details = [
        ("Completion date", label(f"{long_date(completed_on)} ({completed_on.isoformat()})")),
        ("Hours", label(f"{hours_text(hours)} contact hour(s)")),
        ("Certificate ID", type_.runs(certificate_id)),
        ("Facility", type_.runs(facility_name)),
    ]
    y = 150
    for what, runs in details:
        pdf.setFont(type_.label_font(True), 11)
        pdf.drawRightString(centre - 8, y, what + ":")
        draw(centre + 8, y, runs, 11)
        y -= 18
    pdf.setFillColorRGB(0.35, 0.35, 0.35)
    centred(56, label("The certificate ID is kept with the facility's training records."), 8)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


# -- compliance export ----------------------------------------------------------------------------


def _stamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _completed(row: ComplianceRow) -> list[tuple[str, str]]:
    """(module id, " DATE CERTIFICATE-ID") for each completion, oldest first."""
    return [
        (r.module_id or "?", f" {r.completed_on.isoformat()} {r.certificate_id or ''}".rstrip())
        for r in row.completions
    ]


def _rule_scope(rule: Rule) -> str:
    if rule.scope == "facility":
        return "every facility" if rule.facility == "*" else f"facility {rule.facility}"
    who = f"{rule.state} licence holders"
    return f"{who} ({', '.join(rule.professions)})" if rule.professions else who


def compliance_pdf(
    rows: Sequence[ComplianceRow],
    *,
    title: str,
    as_of: date,
    generated_at: datetime,
    rules: Sequence[Rule],
) -> bytes:
    """The audit export: counts, one table row per person (over as many pages as it takes,
    header repeated), then the rules applied with their summary and source."""
    texts = [title]
    for row in rows:
        p = row.profile
        texts += [p.full_name, p.facility_id, p.profession or "", p.licence_state or ""]
        texts += [module for module, _ in _completed(row)]
        texts += [s.rule_id for s in row.status.rules]
    for rule in rules:
        texts += [rule.id, rule.summary, rule.source, _rule_scope(rule)]
    type_ = _Typesetter(texts)

    body = ParagraphStyle("body", fontName=type_.label_font(), fontSize=10, leading=13)
    cell = ParagraphStyle("cell", fontName=type_.label_font(), fontSize=8, leading=10)
    heading = ParagraphStyle("h", fontName=type_.label_font(True), fontSize=16, leading=20)
    subheading = ParagraphStyle("h2", fontName=type_.label_font(True), fontSize=12, leading=16)

    def para(markup: str, style: Any = cell) -> Any:
        return Paragraph(markup, style)

    counts = summary(rows)
    story: list[Any] = [
        para(type_.markup(title, bold=True), heading),
        Spacer(1, 4),
        para(type_.label(f"As of {as_of.isoformat()} · generated {_stamp(generated_at)}"), body),
        para(
            type_.label(
                f"People: {len(rows)} · current: {counts['current']} · due: {counts['due']}"
                f" · overdue: {counts['overdue']}"
            ),
            body,
        ),
        Spacer(1, 10),
    ]
    header = [
        "Name (facility)",
        "Profession",
        "Licence state",
        "Renewal date",
        "Status",
        "Next due",
        "Completed modules (date, certificate)",
    ]
    table: list[list[Any]] = [[para(type_.label(h, bold=True)) for h in header]]
    for row in rows:
        p, status = row.profile, row.status
        rule_lines = "".join(
            "<br/>"
            + type_.markup(s.rule_id)
            + type_.label(f": {s.state}" + (f" ({s.due_date})" if s.due_date else ""))
            for s in status.rules
        )
        done = [type_.markup(module) + type_.label(rest) for module, rest in _completed(row)]
        # A table row must fit on a page: a long history continues in rows of its own.
        chunks = [done[i : i + ROW_COMPLETIONS] for i in range(0, len(done), ROW_COMPLETIONS)]
        name = type_.markup(p.full_name, bold=True)
        table.append(
            [
                para(name + "<br/>" + type_.markup(p.facility_id)),
                para(type_.markup(p.profession or "")),
                para(type_.markup(p.licence_state or "")),
                para(type_.label(p.licence_renewal.isoformat() if p.licence_renewal else "")),
                para(type_.label(status.state.upper(), bold=True) + rule_lines),
                para(type_.label(status.next_due.isoformat() if status.next_due else "")),
                para("<br/>".join(chunks[0]) if chunks else type_.label("none")),
            ]
        )
        for chunk in chunks[1:]:
            table.append(
                [
                    para(name + type_.label(" (continued)")),
                    "",
                    "",
                    "",
                    "",
                    "",
                    para("<br/>".join(chunk)),
                ]
            )
    widths = [w * inch for w in (1.9, 1.0, 0.6, 0.85, 2.05, 0.85, 2.75)]
    grid = Table(table, colWidths=widths, repeatRows=1)
    grid.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.88, 0.9, 0.94)),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.Color(0.6, 0.6, 0.6)),
                (
                    "ROWBACKGROUNDS",
                    (0, 1),
                    (-1, -1),
                    [colors.white, colors.Color(0.97, 0.97, 0.97)],
                ),
            ]
        )
    )
    story += [grid, Spacer(1, 16), para(type_.label("Rules applied", bold=True), subheading)]
    for rule in rules:
        story += [
            Spacer(1, 6),
            para(
                type_.markup(rule.id, bold=True)
                + type_.label(f" — {KIND_TEXT.get(rule.kind, rule.kind)}, for ")
                + type_.markup(_rule_scope(rule)),
                body,
            ),
            para(type_.markup(rule.summary), body),
            para(type_.label("Source: ") + type_.markup(rule.source), body),
        ]
    if not rules:
        story.append(para(type_.label("none"), body))

    footer = type_.runs(title)

    def on_page(page: Any, doc: Any) -> None:
        page.saveState()
        x = doc.leftMargin
        for font, text in footer:
            page.setFont(font, 8)
            page.drawString(x, 0.35 * inch, text)
            x += _width([(font, text)], 8)
        page.setFont(type_.label_font(), 8)
        page.drawRightString(
            doc.leftMargin + doc.width,
            0.35 * inch,
            f"as of {as_of.isoformat()} · page {doc.page}",
        )
        page.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=landscape(letter),
        leftMargin=0.5 * inch,
        rightMargin=0.5 * inch,
        topMargin=0.5 * inch,
        bottomMargin=0.6 * inch,
        title=f"{title} (as of {as_of.isoformat()})",
        creator="Beacon training records",
        invariant=1,
    )
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return out.getvalue()


def compliance_csv(rows: Sequence[ComplianceRow], as_of: date) -> str:
    """One line per person and rule that applies to them (a person with none: one line with the
    rule columns empty), spreadsheet-safe. ``completed_modules``: ``module@date#certificate``
    joined by ``;``; ``hours_total``: the hours of every record up to ``as_of`` (completions and
    self-certifications)."""
    lines: list[list[Cell]] = []
    for row in rows:
        p, status = row.profile, row.status
        held = [r for r in row.records if r.completed_on <= as_of]
        completed = ";".join(
            f"{r.module_id}@{r.completed_on.isoformat()}#{r.certificate_id or ''}"
            for r in held
            if r.kind == "module"
        )
        person: list[Cell] = [
            p.username,
            p.full_name,
            p.facility_id,
            p.profession,
            p.licence_state,
            p.licence_renewal.isoformat() if p.licence_renewal else None,
            status.state,
        ]
        total = round(float(sum(r.hours for r in held)), 2)
        for s in status.rules or [None]:
            rule: list[Cell] = (
                [None, None, None, None]
                if s is None
                else [s.rule_id, s.state, s.due_date.isoformat() if s.due_date else None, s.reason]
            )
            lines.append([*person, *rule, completed, total])
    return to_csv(CSV_HEADER, lines)
