"""Location QR sticker sheets: a print-ready PDF (and SVG pages) for rooms without a kiosk.

One sticker per location and language. Each has the location's QR code (its current token,
``https://{origin}/r/{token}?l={lang}``, error correction M, a 4-module quiet zone, the symbol
at least 25 mm wide), one neutral message from the content bundle (the first help slide's), the
hotline's name and number lines in that language, set in the language's own Noto font (Arabic
shaped and right to left, with the code on the right), and a small caption for the staff who
put stickers up: location name, floor, room and language code. Nothing on a sticker says what
the help is about (the bundle's texts are checked against ``FORBIDDEN_WORDS`` again here).

    stickers = plan_stickers(locations, ("en", "es"), "help.example.org", bundle)
    pages = layout_pages(stickers, SHEETS["avery-5163"], fonts_for(stickers))
    write_stickers(locations, ("en", "es"), "help.example.org", bundle, "avery-5163", out)

Sheets are data (:data:`SHEETS`): page size, grid and label size of common label stock. Cut
marks sit at every label's corners, outside the label, along its edges, for stock without
die-cut labels. Geometry is in millimetres from the page's top-left corner (as in SVG); the PDF
renderer turns it over.

The PDF is the one to print: its QR codes are proved to scan (tests rasterise every page at
300 dpi and decode each code). The SVG pages are for people who lay sheets out in other tools;
their text names font families (``Noto Sans`` …) rather than embedding fonts.
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import segno

from content.bundle import ContentBundle
from content.fonts import FontMissingError, display_text, missing_glyphs
from content.languages import get_language
from content.manifest import forbidden_words_in
from content.qr import (
    ERROR_CORRECTION,
    QUIET_ZONE,
    QrTargetError,
    check_origin,
    is_valid_origin,
    landing_url,
)
from provisioning.sticker_fonts import FontFace, PdfFonts, language_face

MM_PER_PT = 25.4 / 72
PT_PER_MM = 72 / 25.4

MIN_QR_SYMBOL_MM = 25.0  # the dark modules' square, quiet zone not counted
MAX_QR_BOX_MM = 40.0  # the code with its quiet zone: no bigger, leaving room for text
QR_EDGE_MM = 1.5  # from the label's edge to the quiet zone's edge
TEXT_EDGE_MM = 3.0  # from the label's edge to text (printers and die cuts drift ~1 mm)
GAP_MM = 2.5  # between the quiet zone and the text column
CAPTION_PT = 5.5
MESSAGE_SIZES_PT = (11.0, 10.5, 10.0, 9.5, 9.0, 8.5, 8.0, 7.5, 7.0, 6.5, 6.0)
LINE_HEIGHT = 1.22  # times the font size
NUMBER_SCALE = 1.12  # "Call …" / "Text …" lines a little larger, in bold: easy to remember
CUT_MARK_OFFSET_MM = 1.0
CUT_MARK_LENGTH_MM = 3.0
CAPTION_GREY = 0.35

DEFAULT_SHEET = "avery-5163"


class StickerError(ValueError):
    """Stickers that cannot be made as asked; the message says why, for people."""


# -- sheets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """A rectangle in millimetres; ``x``/``y`` its top-left corner from the page's top-left."""

    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height

    def contains(self, other: Box, tolerance: float = 1e-6) -> bool:
        return (
            other.x >= self.x - tolerance
            and other.y >= self.y - tolerance
            and other.right <= self.right + tolerance
            and other.bottom <= self.bottom + tolerance
        )


@dataclass(frozen=True)
class SheetLayout:
    """A sheet of labels: page size and a grid of equal labels, all in millimetres."""

    key: str
    description: str
    page_width: float
    page_height: float
    columns: int
    rows: int
    label_width: float
    label_height: float
    left: float  # page edge to the first column's left edge
    top: float  # page edge to the first row's top edge
    pitch_x: float  # from one column's left edge to the next one's
    pitch_y: float  # from one row's top edge to the next one's

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    def cell(self, index: int) -> Box:
        """The label at ``index`` in reading order (left to right, then down)."""
        if not 0 <= index < self.per_page:
            raise IndexError(f"sheet {self.key} has labels 0-{self.per_page - 1}, not {index}")
        row, column = divmod(index, self.columns)
        return Box(
            self.left + column * self.pitch_x,
            self.top + row * self.pitch_y,
            self.label_width,
            self.label_height,
        )

    def cells(self) -> tuple[Box, ...]:
        return tuple(self.cell(i) for i in range(self.per_page))

    @property
    def page(self) -> Box:
        return Box(0.0, 0.0, self.page_width, self.page_height)


INCH = 25.4
SHEETS: dict[str, SheetLayout] = {
    sheet.key: sheet
    for sheet in (
        SheetLayout(
            "avery-5163",
            'Avery 5163/8163 (US Letter): 2" x 4" labels, 10 per sheet',
            8.5 * INCH,
            11 * INCH,
            2,
            5,
            4 * INCH,
            2 * INCH,
            0.15625 * INCH,
            0.5 * INCH,
            4.1875 * INCH,
            2 * INCH,
        ),
        SheetLayout(
            "a4-l7165",
            "Avery L7165 (A4): 99.1 x 67.7 mm labels, 8 per sheet",
            210.0,
            297.0,
            2,
            4,
            99.1,
            67.7,
            4.65,
            13.1,
            101.6,
            67.7,
        ),
        SheetLayout(
            "a4-l7163",
            "Avery L7163 (A4): 99.1 x 38.1 mm labels, 14 per sheet",
            210.0,
            297.0,
            2,
            7,
            99.1,
            38.1,
            4.65,
            15.15,
            101.6,
            38.1,
        ),
    )
}


def get_sheet(key: str) -> SheetLayout:
    try:
        return SHEETS[key]
    except KeyError:
        known = "; ".join(f"{s.key} ({s.description})" for s in SHEETS.values())
        raise StickerError(f"unknown sheet {key!r}; known sheets: {known}") from None


def cut_marks(sheet: SheetLayout) -> list[tuple[float, float, float, float]]:
    """Short lines (x1, y1, x2, y2) continuing each label's edges outward from its corners.

    They start a little away from the corner and lie on the labels' edge lines, so they never
    print inside a label, even where labels touch; they are cut short at the paper's edge.
    """

    def clip(value: float, limit: float) -> float:
        return min(max(value, 0.0), limit)

    marks = []
    o, n = CUT_MARK_OFFSET_MM, CUT_MARK_OFFSET_MM + CUT_MARK_LENGTH_MM
    for cell in sheet.cells():
        for cx, sx in ((cell.x, -1), (cell.right, 1)):
            for cy, sy in ((cell.y, -1), (cell.bottom, 1)):
                x1, x2 = (clip(cx + sx * d, sheet.page_width) for d in (o, n))
                y1, y2 = (clip(cy + sy * d, sheet.page_height) for d in (o, n))
                marks.append((x1, cy, x2, cy))  # along the horizontal edge
                marks.append((cx, y1, cx, y2))  # along the vertical edge
    return marks


# -- what each sticker says -------------------------------------------------------------------


@dataclass(frozen=True)
class StickerLocation:
    """A location to make stickers for: its id, name, where it is, and its current token."""

    location_id: str
    name: str
    token: str
    floor: str | None = None
    room: str | None = None


@dataclass(frozen=True)
class Sticker:
    location_id: str
    lang: str
    url: str
    message: str  # the neutral line, in ``lang``
    hotline_lines: tuple[str, ...]  # name, "Call …", maybe "Text …", in ``lang``
    caption: str  # for staff: where it goes, and its language


def parse_languages(text: str) -> tuple[str, ...]:
    """``"en, es,ar"`` → ``("en", "es", "ar")``: order kept, repeats dropped."""
    langs = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not langs:
        raise StickerError("name at least one language, e.g. --langs en,es")
    return langs


def check_sticker_origin(origin: str) -> None:
    if not is_valid_origin(origin):
        raise StickerError(
            f"origin {origin!r} must be the landing page's host[:port], lower case, without "
            "scheme or path (e.g. help.example.org)"
        )


def caption(location: StickerLocation, lang: str) -> str:
    parts = [location.name]
    if location.floor:
        parts.append(f"floor {location.floor}")
    if location.room:
        parts.append(f"room {location.room}")
    parts.append(lang)
    return " · ".join(parts)


def plan_stickers(
    locations: Sequence[StickerLocation],
    langs: Sequence[str],
    origin: str,
    bundle: ContentBundle,
) -> list[Sticker]:
    """Each location × each language, in that order; :class:`StickerError` on bad input."""
    check_sticker_origin(origin)
    if not langs:
        raise StickerError("name at least one language, e.g. --langs en,es")
    unknown = [lang for lang in langs if lang not in bundle.languages]
    if unknown:
        raise StickerError(
            f"language(s) {', '.join(unknown)} not in bundle {bundle.root} "
            f"(it has {', '.join(bundle.languages)})"
        )
    if not locations:
        raise StickerError("no locations to make stickers for")
    help_slides = bundle.help_slides()
    if not help_slides:
        raise StickerError(f"bundle {bundle.root} has no help slide to take the message from")
    slide = help_slides[0]
    if slide.message is None or slide.hotline is None:
        raise StickerError(
            f"bundle {bundle.root}: help slide {slide.id} lacks a message or hotline"
        )
    message_id, hotline_id = slide.message, slide.hotline
    stickers = []
    for location in locations:
        for lang in langs:
            try:
                url = landing_url(origin, location.token, lang)
                check_origin(url, [origin])
            except (ValueError, QrTargetError) as exc:
                raise StickerError(f"location {location.location_id}: {exc}") from None
            message = bundle.text(lang, message_id)
            lines = tuple(bundle.hotline_lines(lang, hotline_id))
            words = forbidden_words_in(" ".join((message, *lines)))
            if words:
                raise StickerError(
                    f"bundle text for {lang} contains {', '.join(words)}: never on a sticker"
                )
            stickers.append(
                Sticker(location.location_id, lang, url, message, lines, caption(location, lang))
            )
    return stickers


# -- layout -----------------------------------------------------------------------------------

Align = Literal["left", "right"]
Role = Literal["message", "hotline-name", "hotline-number", "caption"]


@dataclass(frozen=True)
class TextLine:
    text: str  # logical order: for SVG (a browser shapes it)
    visual: str  # shaped, visual order: for the PDF (reportlab does not shape)
    lang: str  # the language the text is in ("en" style for captions in Latin)
    face: FontFace
    size_pt: float
    x: float  # the anchor: left end (align left) or right end (align right), mm
    baseline: float  # mm from the page top
    width: float  # mm
    align: Align
    role: Role

    @property
    def box(self) -> Box:
        """Roughly where the glyphs are: the advance width, ascender to descender."""
        size = self.size_pt * MM_PER_PT
        left = self.x if self.align == "left" else self.x - self.width
        return Box(left, self.baseline - 0.95 * size, self.width, 1.25 * size)


@dataclass(frozen=True)
class PlacedSticker:
    sticker: Sticker
    cell: Box
    qr_box: Box  # the code with its quiet zone
    qr_modules: int  # across, quiet zone included
    lines: tuple[TextLine, ...]

    @property
    def module_mm(self) -> float:
        return self.qr_box.width / self.qr_modules

    @property
    def qr_symbol_mm(self) -> float:
        return (self.qr_modules - 2 * QUIET_ZONE) * self.module_mm


@dataclass(frozen=True)
class Page:
    number: int  # from 1
    stickers: tuple[PlacedSticker, ...]


Measure = Callable[[str, FontFace, float], float]  # text, face, size_pt -> width in points

_NO_LINE_START = set("，。、；：？！）」』】〉》,.;:?!)%·")


def _is_cjk(char: str) -> bool:
    """Characters between any two of which a line may break (Han, kana, full-width)."""
    if "\uac00" <= char <= "\ud7a3" or "\u1100" <= char <= "\u11ff":
        return False  # Hangul: Korean breaks between words, at spaces
    return unicodedata.east_asian_width(char) in ("W", "F")


def _units(text: str) -> list[str]:
    """Pieces a line may break between: words with their trailing spaces, or CJK characters."""
    units: list[str] = []
    for char in text:
        if not units:
            units.append(char)
        elif char in _NO_LINE_START or char.isspace():
            units[-1] += char  # never start a line with closing punctuation or a space
        elif _is_cjk(char) or _is_cjk(units[-1][-1]) or units[-1][-1].isspace():
            units.append(char)
        else:
            units[-1] += char
    return units


def wrap(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Greedy line breaking: as many units per line as ``fits``; a too-long word is split."""
    lines: list[str] = []
    line = ""
    for unit in _units(text):
        candidate = line + unit
        if fits(candidate.rstrip()):
            line = candidate
            continue
        if line:
            lines.append(line.rstrip())
        line = ""
        for char in unit:  # a unit wider than the line on its own: split it
            if line and not fits((line + char).rstrip()):
                lines.append(line.rstrip())
                line = ""
            line += char
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _visual(text: str, lang: str) -> str:
    return display_text(text, lang)


def _caption_lang(text: str, lang: str) -> str:
    """Captions are set in Noto Sans if it has every glyph, else in the sticker language's font
    (a location named in Chinese, say)."""
    for candidate in ("en", lang):
        face = language_face(candidate)
        if not missing_glyphs(text, face.path, face_index=face.face_index):
            return candidate
    return "en"


def _faces(sticker: Sticker) -> dict[Role, tuple[FontFace, str]]:
    caption_lang = _caption_lang(sticker.caption, sticker.lang)
    return {
        "message": (language_face(sticker.lang), sticker.lang),
        "hotline-name": (language_face(sticker.lang), sticker.lang),
        "hotline-number": (language_face(sticker.lang, bold=True), sticker.lang),
        "caption": (language_face(caption_lang), caption_lang),
    }


def _all_forms(text: str, lang: str) -> list[str]:
    """Every string that may be drawn from ``text``: itself, and shaped forms line by line."""
    if get_language(lang).direction == "ltr":
        return [text]
    return [text, _visual(text, lang), *(_visual(word, lang) for word in text.split())]


def font_texts(stickers: Iterable[Sticker]) -> dict[FontFace, list[str]]:
    """Every text each face will draw, so that fonts can be prepared once (see PdfFonts)."""
    texts: dict[FontFace, list[str]] = {}
    for sticker in stickers:
        faces = _faces(sticker)
        by_role: dict[Role, list[str]] = {
            "message": [sticker.message],
            "hotline-name": [sticker.hotline_lines[0]],
            "hotline-number": list(sticker.hotline_lines[1:]),
            "caption": [sticker.caption, "…"],
        }
        for role, strings in by_role.items():
            face, lang = faces[role]
            for string in strings:
                texts.setdefault(face, []).extend(_all_forms(string, lang))
    return texts


def fonts_for(stickers: Sequence[Sticker]) -> PdfFonts:
    try:
        return PdfFonts(font_texts(stickers))
    except FontMissingError as exc:
        raise StickerError(str(exc)) from None


def _fit_caption(text: str, lang: str, face: FontFace, width_mm: float, measure: Measure) -> str:
    def width(s: str) -> float:
        return measure(_visual(s, lang), face, CAPTION_PT) * MM_PER_PT

    if width(text) <= width_mm:
        return text
    while text and width(text + "…") > width_mm:
        text = text[:-1]
    return text.rstrip() + "…"


def layout_sticker(sticker: Sticker, cell: Box, measure: Measure) -> PlacedSticker:
    """Place one sticker's code and text in a label; :class:`StickerError` if it cannot fit."""
    rtl = get_language(sticker.lang).direction == "rtl"
    modules = int(
        segno.make_qr(sticker.url, error=ERROR_CORRECTION, boost_error=False).symbol_size(
            scale=1, border=QUIET_ZONE
        )[0]
    )
    qr_size = min(cell.height - 2 * QR_EDGE_MM, MAX_QR_BOX_MM, cell.width / 2)
    symbol = qr_size * (modules - 2 * QUIET_ZONE) / modules
    if symbol < MIN_QR_SYMBOL_MM:
        raise StickerError(
            f"the QR code would be {symbol:.1f} mm wide on a {cell.width:.1f} x "
            f"{cell.height:.1f} mm label; it must be at least {MIN_QR_SYMBOL_MM:.0f} mm: "
            "choose a sheet with larger labels"
        )
    qr_y = cell.y + (cell.height - qr_size) / 2
    if rtl:
        qr_box = Box(cell.right - QR_EDGE_MM - qr_size, qr_y, qr_size, qr_size)
        column = Box(
            cell.x + TEXT_EDGE_MM,
            cell.y + TEXT_EDGE_MM,
            qr_box.x - GAP_MM - cell.x - TEXT_EDGE_MM,
            cell.height - 2 * TEXT_EDGE_MM,
        )
    else:
        qr_box = Box(cell.x + QR_EDGE_MM, qr_y, qr_size, qr_size)
        left = qr_box.right + GAP_MM
        column = Box(
            left,
            cell.y + TEXT_EDGE_MM,
            cell.right - TEXT_EDGE_MM - left,
            cell.height - 2 * TEXT_EDGE_MM,
        )
    align: Align = "right" if rtl else "left"
    anchor = column.right if rtl else column.x
    faces = _faces(sticker)

    caption_face, caption_lang = faces["caption"]
    caption_text = _fit_caption(sticker.caption, caption_lang, caption_face, column.width, measure)
    caption_visual = _visual(caption_text, caption_lang)
    caption_line = TextLine(
        caption_text,
        caption_visual,
        caption_lang,
        caption_face,
        CAPTION_PT,
        anchor,
        column.bottom - 0.3 * CAPTION_PT * MM_PER_PT,
        measure(caption_visual, caption_face, CAPTION_PT) * MM_PER_PT,
        align,
        "caption",
    )
    room = caption_line.box.y - column.y - 1.0  # height for the message and hotline block

    blocks: list[tuple[Role, str]] = [
        ("message", sticker.message),
        ("hotline-name", sticker.hotline_lines[0]),
        *(("hotline-number", line) for line in sticker.hotline_lines[1:]),
    ]
    limit_pt = column.width * PT_PER_MM
    for size in MESSAGE_SIZES_PT:
        planned: list[tuple[Role, str, float, float]] = []  # role, text, size, gap before
        for role, text in blocks:
            face, lang = faces[role]
            role_size = size * NUMBER_SCALE if role == "hotline-number" else size

            def fits(
                s: str, face: FontFace = face, lang: str = lang, sz: float = role_size
            ) -> bool:
                return measure(_visual(s, lang), face, sz) <= limit_pt

            gap = 0.55 * size * MM_PER_PT if role == "hotline-name" else 0.0
            for i, line in enumerate(wrap(text, fits)):
                planned.append((role, line, role_size, gap if i == 0 else 0.0))
        height = sum(sz * LINE_HEIGHT * MM_PER_PT + gap for _, _, sz, gap in planned)
        if height <= room:
            break
    else:
        raise StickerError(
            f"the {sticker.lang} text does not fit a {cell.width:.1f} x {cell.height:.1f} mm "
            "label even at 6 pt: choose a sheet with larger labels"
        )

    lines = []
    y = column.y + (room - height) / 2  # centred above the caption
    for role, text, sz, gap in planned:
        face, lang = faces[role]
        y += gap
        visual = _visual(text, lang)
        baseline = y + 0.95 * sz * MM_PER_PT
        width = measure(visual, face, sz) * MM_PER_PT
        lines.append(TextLine(text, visual, lang, face, sz, anchor, baseline, width, align, role))
        y += sz * LINE_HEIGHT * MM_PER_PT
    lines.append(caption_line)
    return PlacedSticker(sticker, cell, qr_box, modules, tuple(lines))


def layout_pages(stickers: Sequence[Sticker], sheet: SheetLayout, fonts: PdfFonts) -> list[Page]:
    """Stickers in reading order, ``sheet.per_page`` to a page."""
    pages: list[Page] = []
    for start in range(0, len(stickers), sheet.per_page):
        chunk = stickers[start : start + sheet.per_page]
        placed = tuple(
            layout_sticker(sticker, sheet.cell(i), fonts.width_pt)
            for i, sticker in enumerate(chunk)
        )
        pages.append(Page(len(pages) + 1, placed))
    return pages


# -- QR ---------------------------------------------------------------------------------------


def qr_runs(url: str) -> list[tuple[int, int, int]]:
    """The dark modules as horizontal runs (column, row, length), quiet zone included."""
    matrix = segno.make_qr(url, error=ERROR_CORRECTION, boost_error=False).matrix
    runs = []
    for row, bits in enumerate(matrix):
        column = 0
        while column < len(bits):
            if bits[column]:
                start = column
                while column < len(bits) and bits[column]:
                    column += 1
                runs.append((start + QUIET_ZONE, row + QUIET_ZONE, column - start))
            else:
                column += 1
    return runs


# -- PDF --------------------------------------------------------------------------------------


def render_pdf(pages: Sequence[Page], sheet: SheetLayout, fonts: PdfFonts, path: Path) -> None:
    from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

    page_h = sheet.page_height

    def pt(mm: float) -> float:
        return mm * PT_PER_MM

    pdf = canvas.Canvas(
        str(path),
        pagesize=(pt(sheet.page_width), pt(sheet.page_height)),
        invariant=1,  # no dates or random ids inside: the same input gives the same bytes
        pageCompression=1,
    )
    pdf.setTitle("Location stickers")
    pdf.setCreator("beacon provision stickers")
    for page in pages:
        pdf.setStrokeColorRGB(0, 0, 0)
        pdf.setLineWidth(0.3)
        for x1, y1, x2, y2 in cut_marks(sheet):
            pdf.line(pt(x1), pt(page_h - y1), pt(x2), pt(page_h - y2))
        for placed in page.stickers:
            box, m = placed.qr_box, placed.module_mm
            pdf.setFillColorRGB(1, 1, 1)
            pdf.rect(pt(box.x), pt(page_h - box.bottom), pt(box.width), pt(box.height), 0, 1)
            pdf.setFillColorRGB(0, 0, 0)
            path_obj = pdf.beginPath()
            for column, row, length in qr_runs(placed.sticker.url):
                path_obj.rect(
                    pt(box.x + column * m),
                    pt(page_h - (box.y + (row + 1) * m)),
                    pt(length * m),
                    pt(m),
                )
            pdf.drawPath(path_obj, stroke=0, fill=1)
            for line in placed.lines:
                grey = CAPTION_GREY if line.role == "caption" else 0.0
                pdf.setFillColorRGB(grey, grey, grey)
                pdf.setFont(fonts.name(line.face), line.size_pt)
                draw = pdf.drawRightString if line.align == "right" else pdf.drawString
                draw(pt(line.x), pt(page_h - line.baseline), line.visual)
        pdf.showPage()
    pdf.save()


# -- SVG --------------------------------------------------------------------------------------

SVG_NS = "http://www.w3.org/2000/svg"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
SVG_FAMILIES = {
    "noto-sans": "Noto Sans",
    "noto-sans-arabic": "Noto Sans Arabic",
    "noto-sans-cjk-sc": "Noto Sans CJK SC",
    "noto-sans-cjk-kr": "Noto Sans CJK KR",
}


def _n(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def render_svg(page: Page, sheet: SheetLayout, pages: int) -> str:
    """One page as SVG text (millimetre user units); each sticker a ``<g class="sticker">``."""
    ET.register_namespace("", SVG_NS)
    svg = ET.Element(
        f"{{{SVG_NS}}}svg",
        {
            "width": f"{_n(sheet.page_width)}mm",
            "height": f"{_n(sheet.page_height)}mm",
            "viewBox": f"0 0 {_n(sheet.page_width)} {_n(sheet.page_height)}",
            "version": "1.1",
        },
    )
    ET.SubElement(
        svg, f"{{{SVG_NS}}}title"
    ).text = f"Location stickers, page {page.number} of {pages} ({sheet.key})"
    marks = ET.SubElement(
        svg,
        f"{{{SVG_NS}}}g",
        {"class": "cut-marks", "stroke": "#000", "stroke-width": "0.1", "fill": "none"},
    )
    ET.SubElement(
        marks,
        f"{{{SVG_NS}}}path",
        {
            "d": " ".join(
                f"M{_n(x1)} {_n(y1)}L{_n(x2)} {_n(y2)}" for x1, y1, x2, y2 in cut_marks(sheet)
            )
        },
    )
    for placed in page.stickers:
        sticker = placed.sticker
        group = ET.SubElement(
            svg,
            f"{{{SVG_NS}}}g",
            {
                "class": "sticker",
                "data-location": sticker.location_id,
                "data-lang": sticker.lang,
            },
        )
        box = placed.qr_box
        qr = ET.SubElement(
            group,
            f"{{{SVG_NS}}}g",
            {
                "class": "qr",
                "data-url": sticker.url,
                "transform": f"translate({_n(box.x)} {_n(box.y)}) scale({placed.module_mm:.6f})",
            },
        )
        ET.SubElement(
            qr,
            f"{{{SVG_NS}}}rect",
            {"width": str(placed.qr_modules), "height": str(placed.qr_modules), "fill": "#fff"},
        )
        ET.SubElement(
            qr,
            f"{{{SVG_NS}}}path",
            {
                "fill": "#000",
                "shape-rendering": "crispEdges",
                "d": "".join(f"M{c} {r}h{n}v1h-{n}z" for c, r, n in qr_runs(sticker.url)),
            },
        )
        for line in placed.lines:
            rtl = get_language(line.lang).direction == "rtl"
            attrs = {
                "class": line.role,
                "x": _n(line.x),
                "y": _n(line.baseline),
                "font-family": f"{SVG_FAMILIES.get(line.face.family, line.face.family)}, "
                "sans-serif",
                "font-size": _n(line.size_pt * MM_PER_PT),
                "fill": "#595959" if line.role == "caption" else "#000",
                XML_LANG: line.lang,
            }
            if line.face.bold:
                attrs["font-weight"] = "bold"
            if rtl:
                attrs["direction"] = "rtl"  # "start" is then the right end
                attrs["text-anchor"] = "start" if line.align == "right" else "end"
            elif line.align == "right":
                attrs["text-anchor"] = "end"
            text = ET.SubElement(group, f"{{{SVG_NS}}}text", attrs)
            text.text = line.text
    ET.indent(svg)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(svg, encoding="unicode") + "\n"


# -- files ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StickerFiles:
    pdf: Path
    svgs: tuple[Path, ...]
    stickers: int
    pages: int


def svg_paths(pdf: Path, pages: int) -> list[Path]:
    """``stickers.svg`` for one page; ``stickers-1.svg`` … for more."""
    if pages == 1:
        return [pdf.with_suffix(".svg")]
    stem = pdf.with_suffix("")
    return [stem.with_name(f"{stem.name}-{n}.svg") for n in range(1, pages + 1)]


def remove_stale_svgs(pdf: Path, keep: Sequence[Path]) -> list[Path]:
    """Delete SVG pages of an earlier, longer run of the same output, so the folder never holds
    a page that is not in the PDF beside it. Returns what was removed."""
    stem = pdf.with_suffix("").name
    pattern = re.compile(rf"^{re.escape(stem)}(-\d+)?\.svg$")
    removed = []
    for candidate in pdf.parent.iterdir():
        if pattern.match(candidate.name) and candidate not in keep:
            candidate.unlink()
            removed.append(candidate)
    return removed


def write_stickers(
    locations: Sequence[StickerLocation],
    langs: Sequence[str],
    origin: str,
    bundle: ContentBundle,
    sheet_key: str,
    output: Path,
) -> StickerFiles:
    """Plan, lay out and write the PDF at ``output`` and its SVG page(s) beside it."""
    sheet = get_sheet(sheet_key)
    if output.suffix.lower() != ".pdf":
        raise StickerError(f"output {output} must end in .pdf (the SVG pages are written beside)")
    if not output.parent.is_dir():
        raise StickerError(f"output folder {output.parent} does not exist")
    stickers = plan_stickers(locations, langs, origin, bundle)
    fonts = fonts_for(stickers)
    pages = layout_pages(stickers, sheet, fonts)
    render_pdf(pages, sheet, fonts, output)
    svgs = svg_paths(output, len(pages))
    remove_stale_svgs(output, svgs)
    for page, svg_path in zip(pages, svgs, strict=True):
        svg_path.write_text(render_svg(page, sheet, len(pages)), encoding="utf-8")
    return StickerFiles(output, tuple(svgs), len(stickers), len(pages))


__all__ = [
    "DEFAULT_SHEET",
    "SHEETS",
    "Box",
    "Page",
    "PlacedSticker",
    "SheetLayout",
    "Sticker",
    "StickerError",
    "StickerFiles",
    "StickerLocation",
    "TextLine",
    "check_sticker_origin",
    "cut_marks",
    "get_sheet",
    "layout_pages",
    "layout_sticker",
    "parse_languages",
    "plan_stickers",
    "qr_runs",
    "remove_stale_svgs",
    "render_pdf",
    "render_svg",
    "svg_paths",
    "wrap",
    "write_stickers",
]
