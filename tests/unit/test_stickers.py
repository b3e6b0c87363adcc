"""Sticker sheets without printing: sheet data, cut marks, wrapping, planning, layout, SVG."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from content.bundle import ContentBundle, load_bundle
from content.manifest import forbidden_words_in
from content.qr import QUIET_ZONE
from provisioning.stickers import (
    MIN_QR_SYMBOL_MM,
    SHEETS,
    TEXT_EDGE_MM,
    Box,
    SheetLayout,
    StickerError,
    StickerLocation,
    cut_marks,
    fonts_for,
    get_sheet,
    layout_pages,
    parse_languages,
    plan_stickers,
    qr_runs,
    render_svg,
    svg_paths,
    wrap,
)

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
ORIGIN = "help.example.org"
TOKENS = ("tok0AAAAAAAAAAAAAAAAAA", "tok1BBBBBBBBBBBBBBBBBB", "tok2CCCCCCCCCCCCCCCCCC")
LOCATIONS = (
    StickerLocation("loc-wait-1", "Waiting room 1", TOKENS[0], floor="1", room="104"),
    StickerLocation("loc-bath-2", "Bathroom", TOKENS[1], floor="2"),
    StickerLocation("loc-exam-3", "Exam room 3", TOKENS[2]),
)


@pytest.fixture(scope="module")
def bundle() -> ContentBundle:
    return load_bundle(ROOT / "content" / "sample")


# -- sheets -----------------------------------------------------------------------------------


def test_avery_5163_is_ten_2_by_4_inch_labels_on_us_letter() -> None:
    sheet = SHEETS["avery-5163"]
    assert (sheet.page_width, sheet.page_height) == pytest.approx((215.9, 279.4))
    assert sheet.per_page == 10
    assert (sheet.label_width, sheet.label_height) == pytest.approx((101.6, 50.8))
    last = sheet.cell(9)
    assert (last.x, last.y, last.width, last.height) == pytest.approx(
        (3.96875 + 106.3625, 12.7 + 4 * 50.8, 101.6, 50.8)
    )


@pytest.mark.parametrize("sheet", SHEETS.values(), ids=SHEETS.keys())
def test_labels_lie_on_the_page_and_do_not_overlap(sheet: SheetLayout) -> None:
    cells = sheet.cells()
    assert len(cells) == sheet.per_page == sheet.columns * sheet.rows
    for cell in cells:
        assert sheet.page.contains(cell), cell
    for a, b in itertools.combinations(cells, 2):
        overlap_x = min(a.right, b.right) - max(a.x, b.x)
        overlap_y = min(a.bottom, b.bottom) - max(a.y, b.y)
        assert overlap_x <= 1e-6 or overlap_y <= 1e-6, (a, b)
    # The grid is symmetric on the page, as label stock is.
    last = cells[-1]
    assert sheet.page_width - last.right == pytest.approx(sheet.left, abs=0.05)
    assert sheet.page_height - last.bottom == pytest.approx(sheet.top, abs=0.05)


@pytest.mark.parametrize("sheet", SHEETS.values(), ids=SHEETS.keys())
def test_cut_marks_are_on_the_page_and_never_inside_a_label(sheet: SheetLayout) -> None:
    marks = cut_marks(sheet)
    assert len(marks) == 8 * sheet.per_page  # two lines at each of four corners
    for x1, y1, x2, y2 in marks:
        assert x1 == x2 or y1 == y2  # horizontal or vertical
        for x, y in ((x1, y1), (x2, y2), ((x1 + x2) / 2, (y1 + y2) / 2)):
            assert 0 <= x <= sheet.page_width and 0 <= y <= sheet.page_height
            for cell in sheet.cells():
                strictly_inside = cell.x < x < cell.right and cell.y < y < cell.bottom
                assert not strictly_inside, ((x1, y1, x2, y2), cell)


def test_cell_index_out_of_range() -> None:
    with pytest.raises(IndexError):
        SHEETS["a4-l7165"].cell(8)


def test_unknown_sheet_lists_the_known_ones() -> None:
    with pytest.raises(StickerError, match=r"unknown sheet 'a4'.*avery-5163.*a4-l7165.*a4-l7163"):
        get_sheet("a4")


# -- small pure pieces ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("en", ("en",)),
        ("en,es,ar,zh-Hans", ("en", "es", "ar", "zh-Hans")),
        (" en , es ,, en ", ("en", "es")),
    ],
)
def test_parse_languages(text: str, expected: tuple[str, ...]) -> None:
    assert parse_languages(text) == expected


@pytest.mark.parametrize("text", ["", " , ", ","])
def test_parse_languages_needs_one(text: str) -> None:
    with pytest.raises(StickerError, match="at least one language"):
        parse_languages(text)


@pytest.mark.parametrize(
    ("pdf", "pages", "expected"),
    [
        ("out/stickers.pdf", 1, ["out/stickers.svg"]),
        ("out/stickers.pdf", 3, ["out/stickers-1.svg", "out/stickers-2.svg", "out/stickers-3.svg"]),
        ("a.b.pdf", 2, ["a.b-1.svg", "a.b-2.svg"]),
    ],
)
def test_svg_paths(pdf: str, pages: int, expected: list[str]) -> None:
    assert svg_paths(Path(pdf), pages) == [Path(p) for p in expected]


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        pytest.param("Scan or call.", 40, ["Scan or call."], id="fits-whole"),
        pytest.param(
            "Do you feel safe? Confidential help.",
            18,
            ["Do you feel safe?", "Confidential help."],
            id="words",
        ),
        pytest.param(
            "Call 1-888-373-7888 now", 15, ["Call", "1-888-373-7888", "now"], id="number-unbroken"
        ),
        pytest.param("abcdefghij", 4, ["abcd", "efgh", "ij"], id="long-word-split"),
        # "？" never starts a line: it goes down with the character before it.
        pytest.param(
            "您感到安全吗？保密帮助", 6, ["您感到安全", "吗？保密帮助"], id="cjk-punctuation"
        ),
        pytest.param("致电 1-888", 5, ["致电", "1-888"], id="cjk-then-latin"),
        pytest.param(
            "안전하다고 느끼시나요? 모든 언어로",
            8,
            ["안전하다고", "느끼시나요?", "모든 언어로"],
            id="hangul-by-words",
        ),
    ],
)
def test_wrap(text: str, limit: int, expected: list[str]) -> None:
    assert wrap(text, lambda s: len(s) <= limit) == expected


def test_qr_runs_cover_the_symbol_inside_the_quiet_zone() -> None:
    runs = qr_runs("https://help.example.org/r/tok0AAAAAAAAAAAAAAAAAA?l=en")
    columns = [c for c, _, _ in runs]
    rows = [r for _, r, _ in runs]
    assert min(columns) == min(rows) == QUIET_ZONE  # the finder patterns' corner
    version_4 = 33
    assert max(c + n for c, _, n in runs) == max(rows) + 1 == QUIET_ZONE + version_4


# -- planning ---------------------------------------------------------------------------------


def test_plan_is_locations_times_languages(bundle: ContentBundle) -> None:
    stickers = plan_stickers(LOCATIONS, ("en", "ar"), ORIGIN, bundle)
    assert [(s.location_id, s.lang) for s in stickers] == [
        ("loc-wait-1", "en"),
        ("loc-wait-1", "ar"),
        ("loc-bath-2", "en"),
        ("loc-bath-2", "ar"),
        ("loc-exam-3", "en"),
        ("loc-exam-3", "ar"),
    ]
    first = stickers[0]
    assert first.url == f"https://{ORIGIN}/r/{TOKENS[0]}?l=en"
    assert first.message == "Do you feel safe? Confidential help, any language, 24/7. Scan or call."
    assert first.hotline_lines == (
        "National Confidential Helpline",
        "Call 1-888-373-7888",
        "Text 233733",
    )
    assert first.caption == "Waiting room 1 · floor 1 · room 104 · en"
    assert stickers[1].hotline_lines[1] == "اتصل بالرقم 1-888-373-7888"
    assert stickers[-1].caption == "Exam room 3 · ar"


def test_every_language_plans_neutral_text(bundle: ContentBundle) -> None:
    for sticker in plan_stickers(LOCATIONS[:1], bundle.languages, ORIGIN, bundle):
        assert forbidden_words_in(" ".join((sticker.message, *sticker.hotline_lines))) == []
        assert "/r/" in sticker.url and sticker.url.endswith(f"?l={sticker.lang}")


@pytest.mark.parametrize(
    ("locations", "langs", "origin", "message"),
    [
        pytest.param(LOCATIONS, ("en", "xx"), ORIGIN, "language.* xx not in bundle", id="lang"),
        pytest.param(LOCATIONS, ("en", "de"), ORIGIN, "de not in bundle", id="lang-not-in-bundle"),
        pytest.param(LOCATIONS, (), ORIGIN, "at least one language", id="no-lang"),
        pytest.param((), ("en",), ORIGIN, "no locations", id="no-locations"),
        pytest.param(LOCATIONS, ("en",), "https://x.org", "must be the landing page", id="scheme"),
        pytest.param(LOCATIONS, ("en",), "Help.Example.org", "lower case", id="upper-case"),
        pytest.param(LOCATIONS, ("en",), "x.org/path", "without scheme or path", id="path"),
        pytest.param(LOCATIONS, ("en",), "", "host", id="empty-origin"),
        pytest.param(
            (StickerLocation("loc-1", "A", "tok-1"),),
            ("en",),
            ORIGIN,
            "location loc-1: location token must be 16-64",
            id="bad-token",
        ),
    ],
)
def test_plan_refuses(
    bundle: ContentBundle,
    locations: tuple[StickerLocation, ...],
    langs: tuple[str, ...],
    origin: str,
    message: str,
) -> None:
    with pytest.raises(StickerError, match=message):
        plan_stickers(locations, langs, origin, bundle)


# -- layout -----------------------------------------------------------------------------------


@pytest.mark.parametrize("sheet", SHEETS.values(), ids=SHEETS.keys())
def test_every_sticker_fits_its_label_in_every_language(
    bundle: ContentBundle, sheet: SheetLayout
) -> None:
    stickers = plan_stickers(LOCATIONS[:1], bundle.languages, ORIGIN, bundle)
    pages = layout_pages(stickers, sheet, fonts_for(stickers))
    placed = [p for page in pages for p in page.stickers]
    assert [len(page.stickers) for page in pages][:-1] == [sheet.per_page] * (len(pages) - 1)
    assert len(placed) == len(bundle.languages)
    for index, sticker in enumerate(placed):
        assert sticker.cell == sheet.cell(index % sheet.per_page)
        assert sticker.cell.contains(sticker.qr_box)
        assert sticker.qr_box.width == sticker.qr_box.height
        assert sticker.qr_symbol_mm >= MIN_QR_SYMBOL_MM
        safe = Box(
            sticker.cell.x + TEXT_EDGE_MM - 0.01,
            sticker.cell.y + TEXT_EDGE_MM - 1.0,  # ascender room above the first baseline
            sticker.cell.width - 2 * TEXT_EDGE_MM + 0.02,
            sticker.cell.height - 2 * TEXT_EDGE_MM + 2.0,
        )
        for line in sticker.lines:
            assert sticker.cell.contains(line.box), (sheet.key, sticker.sticker.lang, line)
            assert safe.contains(line.box), (sheet.key, sticker.sticker.lang, line)
            qr = sticker.qr_box
            beside = line.box.x >= qr.right or line.box.right <= qr.x
            assert beside, ("text over the QR code", sheet.key, line)
        for a, b in itertools.pairwise(sticker.lines):
            assert b.baseline > a.baseline  # top to bottom, no line on another
        roles = [line.role for line in sticker.lines]
        assert roles[0] == "message" and roles[-1] == "caption"
        assert "hotline-name" in roles and "hotline-number" in roles


def test_arabic_reads_right_to_left_with_the_code_on_the_right(bundle: ContentBundle) -> None:
    stickers = plan_stickers(LOCATIONS[:1], ("en", "ar"), ORIGIN, bundle)
    en, ar = layout_pages(stickers, SHEETS["avery-5163"], fonts_for(stickers))[0].stickers
    assert en.qr_box.x < en.lines[0].x  # code left, text right
    assert ar.qr_box.x > ar.lines[0].x  # text left, code right
    assert {line.align for line in en.lines} == {"left"}
    assert {line.align for line in ar.lines} == {"right"}
    message = [line for line in ar.lines if line.role == "message"]
    assert all(line.visual != line.text for line in message)  # shaped for the PDF
    assert "".join(line.text for line in message).replace(" ", "") == (
        stickers[1].message.replace(" ", "")
    )


def test_labels_too_small_for_a_25_mm_code_are_refused(bundle: ContentBundle) -> None:
    tiny = SheetLayout("tiny", "tiny", 100, 100, 1, 1, 60, 30, 20, 20, 60, 30)
    stickers = plan_stickers(LOCATIONS[:1], ("en",), ORIGIN, bundle)
    with pytest.raises(StickerError, match="at least 25 mm"):
        layout_pages(stickers, tiny, fonts_for(stickers))


# -- SVG --------------------------------------------------------------------------------------


def test_svg_page_has_one_qr_group_per_sticker(bundle: ContentBundle) -> None:
    sheet = SHEETS["a4-l7165"]
    stickers = plan_stickers(LOCATIONS, ("en", "es", "ar", "zh-Hans"), ORIGIN, bundle)
    pages = layout_pages(stickers, sheet, fonts_for(stickers))
    assert [len(p.stickers) for p in pages] == [8, 4]
    urls = []
    for page in pages:
        root = ET.fromstring(render_svg(page, sheet, len(pages)))
        assert root.tag == f"{SVG}svg"
        assert root.get("viewBox") == "0 0 210 297"
        assert (root.get("width"), root.get("height")) == ("210mm", "297mm")
        groups = root.findall(f"{SVG}g[@class='sticker']")
        assert len(groups) == len(page.stickers)
        for group, placed in zip(groups, page.stickers, strict=True):
            qrs = group.findall(f"{SVG}g[@class='qr']")
            assert len(qrs) == 1
            urls.append(qrs[0].get("data-url"))
            assert group.get("data-lang") == placed.sticker.lang
            texts = group.findall(f"{SVG}text")
            assert [t.text for t in texts] == [line.text for line in placed.lines]
            if placed.sticker.lang == "ar":
                assert {t.get("direction") for t in texts[:-1]} == {"rtl"}
                assert texts[0].get("font-family", "").startswith("Noto Sans Arabic")
            if placed.sticker.lang == "zh-Hans":
                assert texts[0].get("font-family", "").startswith("Noto Sans CJK SC")
        assert len(root.findall(f"{SVG}g[@class='cut-marks']")) == 1
    assert urls == [s.url for s in stickers]


def test_stale_svg_pages_of_an_earlier_run_are_removed(tmp_path: Path) -> None:
    from provisioning.stickers import remove_stale_svgs, svg_paths

    pdf = tmp_path / "stickers.pdf"
    for name in ("stickers-1.svg", "stickers-2.svg", "stickers-3.svg", "stickers.svg"):
        (tmp_path / name).write_text("<svg/>")
    (tmp_path / "other-1.svg").write_text("<svg/>")
    keep = svg_paths(pdf, 2)
    removed = remove_stale_svgs(pdf, keep)
    assert sorted(p.name for p in removed) == ["stickers-3.svg", "stickers.svg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "other-1.svg",
        "stickers-1.svg",
        "stickers-2.svg",
    ]
