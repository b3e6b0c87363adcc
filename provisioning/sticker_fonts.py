"""Each language's Noto font, made usable by reportlab for the sticker PDF.

The fonts are the ones the kiosk uses (:mod:`content.fonts`). reportlab embeds TrueType
outlines only, and Noto Sans CJK (a ``.ttc`` collection) has PostScript (CFF) outlines; for
those, the face in use is cut down to the characters the stickers need (fontTools subsetter)
and its curves converted to TrueType quadratics (cu2qu), in memory. Other fonts are read as
they are, the right face of a collection picked by ``subfontIndex``.

Arabic text must already be shaped and in visual order (:func:`content.fonts.display_text`):
reportlab draws the code points it is given, one glyph each.
"""

from __future__ import annotations

import functools
import hashlib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fontTools.pens.cu2quPen import Cu2QuPen  # type: ignore[import-untyped]
from fontTools.pens.ttGlyphPen import TTGlyphPen  # type: ignore[import-untyped]
from fontTools.subset import Options, Subsetter  # type: ignore[import-untyped]
from fontTools.ttLib import TTFont as FontToolsFont  # type: ignore[import-untyped]
from fontTools.ttLib import newTable
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]

from content.fonts import font_face_index, font_family, font_path, font_path_bold

# How far a converted curve may stray from the original, in font units (1/1000 em and finer).
_MAX_CURVE_ERROR = 1.0


@dataclass(frozen=True)
class FontFace:
    """One face of one font file, as a renderer picks it."""

    family: str  # content.fonts family key, e.g. "noto-sans-cjk-sc"
    path: Path
    face_index: int
    bold: bool


def language_face(lang: str, bold: bool = False) -> FontFace:
    """The face text in ``lang`` is set in (``FontMissingError`` if it is not installed)."""
    path = font_path_bold(lang) if bold else font_path(lang)
    return FontFace(font_family(lang).key, path, font_face_index(lang), bold)


@functools.lru_cache(maxsize=8)
def _is_postscript_outlined(path: Path, face_index: int) -> bool:
    font = FontToolsFont(path, fontNumber=face_index, lazy=True)
    try:
        return bool(font.sfntVersion == "OTTO")
    finally:
        font.close()


@functools.lru_cache(maxsize=32)
def truetype_subset(path: Path, face_index: int, chars: frozenset[str]) -> bytes:
    """A TrueType font of ``chars`` (plus .notdef) from a CFF-outlined face, as file bytes."""
    font = FontToolsFont(path, fontNumber=face_index)
    options = Options()
    options.layout_features = []  # reportlab neither shapes nor reads GSUB/GPOS
    options.hinting = False
    options.notdef_outline = True
    options.name_IDs = ["*"]
    subsetter = Subsetter(options)
    subsetter.populate(text="".join(sorted(chars)))
    subsetter.subset(font)

    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        # CFF contours run counter-clockwise, TrueType ones clockwise.
        glyph_set[name].draw(Cu2QuPen(pen, _MAX_CURVE_ERROR, reverse_direction=True))
        glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    for table in ("CFF ", "VORG"):
        if table in font:
            del font[table]
    glyf.compile(font)
    hmtx = font["hmtx"]
    for name, glyph in glyphs.items():  # TrueType's left side bearing is the glyph's xMin
        advance, _ = hmtx[name]
        hmtx[name] = (advance, getattr(glyph, "xMin", 0))
    maxp = font["maxp"] = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for field in (
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ):
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    font["post"].formatType = 3.0  # no glyph names: nothing reads them
    font.sfntVersion = "\x00\x01\x00\x00"
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


class PdfFonts:
    """Registers the faces a document uses with reportlab, under names of its own.

    ``PdfFonts({face: texts})`` learns every character drawn in each face up front, so that a
    CFF face is converted once, with all of them.
    """

    def __init__(self, texts: Mapping[FontFace, Iterable[str]]) -> None:
        self._chars = {face: frozenset("".join(t)) for face, t in texts.items()}
        self._names: dict[FontFace, str] = {}

    def name(self, face: FontFace) -> str:
        """The reportlab font name of ``face`` (registered on first use)."""
        known = self._names.get(face)
        if known is not None:
            return known
        weight = "Bold" if face.bold else "Regular"
        if _is_postscript_outlined(face.path, face.face_index):
            chars = self._chars.get(face)
            if chars is None:
                raise KeyError(f"no text was announced for font {face.path}")
            digest = hashlib.sha1("".join(sorted(chars)).encode(), usedforsecurity=False)
            name = f"Beacon-{face.family}-{weight}-{digest.hexdigest()[:10]}"
            data = truetype_subset(face.path, face.face_index, chars)
            source: object = io.BytesIO(data)
            index = 0
        else:
            name = f"Beacon-{face.family}-{weight}"
            source, index = str(face.path), face.face_index
        if name not in pdfmetrics.getRegisteredFontNames():
            font = TTFont(name, source, subfontIndex=index, shapable=False)
            # reportlab hands a later font with the same internal face name the glyphs of the
            # first one registered: each subset gets a face name of its own.
            font.face.name = name.encode()
            pdfmetrics.registerFont(font)
        self._names[face] = name
        return name

    def width_pt(self, text: str, face: FontFace, size_pt: float) -> float:
        """How wide ``text`` is drawn in ``face`` at ``size_pt`` points, in points."""
        return float(pdfmetrics.stringWidth(text, self.name(face), size_pt))
