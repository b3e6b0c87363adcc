"""`beacon provision stickers` printed and scanned: every page of the PDF rasterised at 300 dpi
(pdftoppm, Debian's poppler-utils) and every QR code decoded (zxing-cpp); the SVG pages parsed,
and their codes drawn and decoded too.

A facility with 3 locations × en, es, ar, zh-Hans = 12 stickers, on each sheet layout.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import zxingcpp
from click.testing import CliRunner, Result
from PIL import Image, ImageDraw

from beacon.cli import main
from content.manifest import forbidden_words_in
from content.qr import landing_url
from fleet_manager.store import registry
from fleet_manager.store.database import migrate, open_engine
from provisioning.stickers import MIN_QR_SYMBOL_MM, SHEETS, SheetLayout

ORIGIN = "help.example.org"
LANGS = ("en", "es", "ar", "zh-Hans")
DPI = 300
SVG = "{http://www.w3.org/2000/svg}"
T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def facility(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """A fleet database (SQLite file) with fac-st-mary's 3 locations; (url, their tokens)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'fleet.db'}"
    engine = open_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        registry.create_facility(conn, "fac-st-mary", "St Mary's Hospital", "north", T0)
        registry.create_facility(conn, "fac-empty", "New Clinic", "north", T0)
        for location_id, name, kind, floor in (
            ("loc-wait-1", "Waiting room 1", "waiting_room", "1"),
            ("loc-bath-2", "Bathroom, 2nd floor", "bathroom", "2"),
            ("loc-exam-3", "Exam room 3", "exam_room", None),
        ):
            registry.create_location(conn, location_id, "fac-st-mary", name, kind, T0, floor=floor)
        # A rotated-out token must not be printed: only current tokens go on stickers.
        registry.rotate_location_token(conn, "loc-exam-3", T0 + 1, 30 * registry.DAY)
        tokens = [loc.qr_token for loc in registry.list_locations(conn, "fac-st-mary")]
    engine.dispose()
    yield url, tokens


def stickers(url: str, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["provision", "stickers", *args, "--database-url", url], catch_exceptions=False
    )


def rasterise(pdf: Path, dpi: int = DPI) -> list[Image.Image]:
    if shutil.which("pdftoppm") is None:
        pytest.fail(
            "pdftoppm is missing: install Debian's poppler-utils (make system-deps does)",
            pytrace=False,
        )
    prefix = pdf.with_suffix("")
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", str(pdf), f"{prefix}-page"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pages = sorted(
        pdf.parent.glob(f"{prefix.name}-page-*.png"), key=lambda p: int(p.stem.split("-")[-1])
    )
    return [Image.open(p).convert("L") for p in pages]


def _px(mm: float) -> float:
    return mm / 25.4 * DPI


@pytest.mark.parametrize("sheet", SHEETS.values(), ids=SHEETS.keys())
def test_every_printed_code_scans(
    facility: tuple[str, list[str]], sheet: SheetLayout, tmp_path: Path
) -> None:
    url, tokens = facility
    out = tmp_path / "stickers.pdf"
    result = stickers(
        url,
        *("--facility", "fac-st-mary", "--langs", ",".join(LANGS), "--origin", ORIGIN),
        *("--sheet", sheet.key, "-o", str(out)),
    )
    assert result.exit_code == 0, result.output
    pages = math.ceil(12 / sheet.per_page)
    svgs = (
        [tmp_path / "stickers.svg"]
        if pages == 1
        else [tmp_path / f"stickers-{n}.svg" for n in range(1, pages + 1)]
    )
    assert result.stdout == (
        f"wrote {out} (12 stickers on {pages} page{'s' if pages > 1 else ''}) and "
        f"{', '.join(str(p) for p in svgs)}\n"
    )
    expected = {landing_url(ORIGIN, token, lang) for token in tokens for lang in LANGS}
    assert len(expected) == 12

    images = rasterise(out)
    assert len(images) == pages
    decoded: list[str] = []
    cells = sheet.cells()
    for page_number, image in enumerate(images, start=1):
        # The page is the sheet's paper size.
        width, height = image.size
        assert width == pytest.approx(_px(sheet.page_width), abs=1.5)
        assert height == pytest.approx(_px(sheet.page_height), abs=1.5)
        found = zxingcpp.read_barcodes(image)
        on_page = min(sheet.per_page, 12 - (page_number - 1) * sheet.per_page)
        assert len(found) == on_page, [r.text for r in found]
        used_cells = set()
        for code in found:
            assert code.format == zxingcpp.BarcodeFormat.QRCode
            assert code.ec_level == "M"
            decoded.append(code.text)
            corners = [
                code.position.top_left,
                code.position.top_right,
                code.position.bottom_right,
                code.position.bottom_left,
            ]
            xs = [p.x for p in corners]
            ys = [p.y for p in corners]
            # The printed symbol is at least 25 mm across …
            assert max(xs) - min(xs) >= _px(MIN_QR_SYMBOL_MM) * 0.97, code.text
            # … and lies inside one label, with room for its quiet zone.
            inside = [
                i
                for i, cell in enumerate(cells)
                if all(_px(cell.x) < x < _px(cell.right) for x in xs)
                and all(_px(cell.y) < y < _px(cell.bottom) for y in ys)
            ]
            assert len(inside) == 1, (code.text, xs, ys)
            used_cells.add(inside[0])
        assert used_cells == set(range(on_page))  # filled in reading order, one code a label
    assert len(decoded) == 12
    assert set(decoded) == expected

    svg_urls: list[str] = []
    for svg_path in svgs:
        svg_urls += _check_svg(svg_path, sheet)
    assert sorted(svg_urls) == sorted(expected)


def _check_svg(path: Path, sheet: SheetLayout) -> list[str]:
    """Parse an SVG page; draw each QR group's modules and decode them. Returns the URLs."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    assert root.get("width") == f"{sheet.page_width:.3f}".rstrip("0").rstrip(".") + "mm"
    groups = root.findall(f"{SVG}g[@class='sticker']")
    assert 1 <= len(groups) <= sheet.per_page
    urls = []
    for group in groups:
        qrs = group.findall(f"{SVG}g[@class='qr']")
        assert len(qrs) == 1
        qr = qrs[0]
        url = qr.get("data-url")
        assert url is not None
        size = int(qr.find(f"{SVG}rect").get("width"))  # type: ignore[union-attr,arg-type]
        path_data = qr.find(f"{SVG}path").get("d")  # type: ignore[union-attr]
        assert path_data is not None
        scale = 8
        image = Image.new("L", (size * scale, size * scale), 255)
        draw = ImageDraw.Draw(image)
        for column, row, length in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", path_data):
            x, y, n = int(column), int(row), int(length)
            draw.rectangle((x * scale, y * scale, (x + n) * scale - 1, (y + 1) * scale - 1), 0)
        found = zxingcpp.read_barcodes(image)
        assert [r.text for r in found] == [url]
        texts = [t.text or "" for t in group.findall(f"{SVG}text")]
        assert any("1-888-373-7888" in t for t in texts)
        assert forbidden_words_in(" ".join(texts)) == []
        urls.append(url)
    return urls


def test_printed_text_is_neutral_and_in_each_language(
    facility: tuple[str, list[str]], tmp_path: Path
) -> None:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext is missing: install Debian's poppler-utils", pytrace=False)
    url, _ = facility
    out = tmp_path / "s.pdf"
    result = stickers(
        url,
        *("--facility", "fac-st-mary", "--langs", "en,zh-Hans", "--origin", ORIGIN),
        *("--sheet", "a4-l7165", "-o", str(out)),
    )
    assert result.exit_code == 0, result.output
    text = subprocess.run(
        ["pdftotext", "-layout", str(out), "-"], check=True, capture_output=True, text=True
    ).stdout
    flat = " ".join(text.split())
    assert flat.count("1-888-373-7888") == 6
    assert "Do you feel safe?" in flat and "Text 233733" in flat
    assert "您感到安全吗" in flat and "全国保密帮助热线" in flat
    assert "Waiting room 1 · floor 1 · en" in flat and "Exam room 3 · zh-Hans" in flat
    assert forbidden_words_in(text) == []
    assert "St Mary" not in text  # the facility's name is not on the stickers


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ("--facility", "fac-nowhere", "--langs", "en", "--origin", ORIGIN),
            "facility 'fac-nowhere' does not exist",
            id="unknown-facility",
        ),
        pytest.param(
            ("--facility", "fac-empty", "--langs", "en", "--origin", ORIGIN),
            "facility 'fac-empty' has no locations: add them with `beacon provision location add`",
            id="no-locations",
        ),
        pytest.param(
            ("--facility", "fac-st-mary", "--langs", "en,de", "--origin", ORIGIN),
            "language(s) de not in bundle",
            id="unknown-language",
        ),
        pytest.param(
            ("--facility", "fac-st-mary", "--langs", ",", "--origin", ORIGIN),
            "name at least one language",
            id="no-language",
        ),
        pytest.param(
            ("--facility", "fac-st-mary", "--langs", "en", "--origin", "https://help.example.org"),
            "origin 'https://help.example.org' must be the landing page's host[:port]",
            id="origin-with-scheme",
        ),
        pytest.param(
            ("--facility", "fac-st-mary", "--langs", "en", "--origin", "help example"),
            "origin 'help example' must be",
            id="origin-not-a-host",
        ),
        pytest.param(
            ("--facility", "fac-st-mary", "--langs", "en", "--origin", ORIGIN, "--sheet", "a5"),
            "unknown sheet 'a5'; known sheets: avery-5163",
            id="unknown-sheet",
        ),
        pytest.param(
            ("--facility", "fac-st-mary", "--langs", "en", "--origin", ORIGIN, "--bundle", "."),
            "content bundle .:",
            id="not-a-bundle",
        ),
    ],
)
def test_bad_input_is_refused_clearly(
    facility: tuple[str, list[str]], tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    url, _ = facility
    out = tmp_path / "stickers.pdf"
    result = stickers(url, *args, "-o", str(out))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith(f"Error: {message}"), result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_output_must_be_a_pdf_in_an_existing_folder(
    facility: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, _ = facility
    base = ("--facility", "fac-st-mary", "--langs", "en", "--origin", ORIGIN)
    result = stickers(url, *base, "-o", str(tmp_path / "stickers.png"))
    assert result.exit_code == 1 and "must end in .pdf" in result.stderr
    result = stickers(url, *base, "-o", str(tmp_path / "no" / "stickers.pdf"))
    assert result.exit_code == 1 and "does not exist" in result.stderr
