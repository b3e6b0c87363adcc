"""content.qr: landing URLs, the origin allow-list, token rules, and QR codes that scan."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from content.languages import LANGUAGES
from content.qr import (
    QUIET_ZONE,
    QrTargetError,
    check_origin,
    is_valid_origin,
    landing_url,
    qr_modules,
    qr_png,
)

TOKEN = "Xq3v9LmT2pR8sW4k"
ALLOWED = ("help.example.org", "localhost:8443")


@pytest.mark.parametrize(
    ("origin", "lang", "url"),
    [
        ("help.example.org", "en", f"https://help.example.org/r/{TOKEN}?l=en"),
        ("help.example.org", "zh-Hans", f"https://help.example.org/r/{TOKEN}?l=zh-Hans"),
        ("localhost:8443", "ar", f"https://localhost:8443/r/{TOKEN}?l=ar"),
        ("10.0.0.7:443", "ht", f"https://10.0.0.7:443/r/{TOKEN}?l=ht"),
    ],
)
def test_landing_url(origin: str, lang: str, url: str) -> None:
    assert landing_url(origin, TOKEN, lang) == url


@pytest.mark.parametrize(
    "token",
    [
        "",
        "short-token-15c",  # 15 characters
        "x" * 65,
        "has space in it 123",
        "slash/in/the/token",
        "query?l=en&x=1234",
        "ümlaut-token-1234",
        "dot.in.the.token.1",
        "percent%20encoded1",
    ],
)
def test_bad_tokens_are_refused(token: str) -> None:
    with pytest.raises(ValueError, match="location token must be 16-64 characters"):
        landing_url("help.example.org", token, "en")


@pytest.mark.parametrize("token", ["A" * 16, "a-b_c" * 4, "0123456789" * 6 + "abcd", TOKEN])
def test_good_tokens(token: str) -> None:
    assert landing_url("help.example.org", token, "en").endswith(f"/r/{token}?l=en")


@pytest.mark.parametrize(
    "origin",
    [
        "https://help.example.org",
        "help.example.org/",
        "help.example.org/path",
        "Help.Example.org",
        "help.example.org:0",
        "help.example.org:70000",
        "help.example.org:",
        "user@help.example.org",
        "",
        "help..example.org",
        "-help.example.org",
        "help.example.org ",
    ],
)
def test_bad_origins_are_refused(origin: str) -> None:
    assert not is_valid_origin(origin)
    with pytest.raises(ValueError, match="must be a lower-case host"):
        landing_url(origin, TOKEN, "en")


@pytest.mark.parametrize("lang", ["", "english!", "en_US", "e", "en-"])
def test_bad_languages_are_refused(lang: str) -> None:
    with pytest.raises(ValueError, match="is not a language tag"):
        landing_url("help.example.org", TOKEN, lang)


@pytest.mark.parametrize(
    "url",
    [
        f"https://help.example.org/r/{TOKEN}?l=en",
        f"https://localhost:8443/r/{TOKEN}?l=ar",
        "https://help.example.org/",
    ],
)
def test_allowed_targets(url: str) -> None:
    check_origin(url, ALLOWED)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"http://help.example.org/r/{TOKEN}", "must use https"),
        (f"ftp://help.example.org/r/{TOKEN}", "must use https"),
        (f"//help.example.org/r/{TOKEN}", "must use https"),
        (f"https://evil.example.com/r/{TOKEN}", "not on the allow-list"),
        (f"https://help.example.org.evil.com/r/{TOKEN}", "not on the allow-list"),
        (f"https://sub.help.example.org/r/{TOKEN}", "not on the allow-list"),
        (f"https://help.example.org:8443/r/{TOKEN}", "not on the allow-list"),
        (f"https://help.example.org:443/r/{TOKEN}", "not on the allow-list"),
        (f"https://localhost/r/{TOKEN}", "not on the allow-list"),
        (f"https://help.example.org@evil.com/r/{TOKEN}", "not on the allow-list"),
        (f"https://evil.com\\@help.example.org/r/{TOKEN}", "not on the allow-list"),
        (f"https://HELP.EXAMPLE.ORG/r/{TOKEN}", "not on the allow-list"),
        (f"https://help.example.org/r/{TOKEN}\n", "not a plain printable ASCII URL"),
        (f"https://help.example.org/r/{TOKEN} x", "not a plain printable ASCII URL"),
        ("https://hеlp.example.org/", "not a plain printable ASCII URL"),  # Cyrillic "е"
        ("", "not a plain printable ASCII URL"),
    ],
)
def test_refused_targets(url: str, reason: str) -> None:
    with pytest.raises(QrTargetError, match=reason):
        check_origin(url, ALLOWED)


def test_empty_allow_list_refuses_everything() -> None:
    with pytest.raises(QrTargetError, match=r"allow-list \(none\)"):
        check_origin(f"https://help.example.org/r/{TOKEN}", ())


def test_one_string_is_not_an_allow_list() -> None:
    # "help.example.org" as a string would make "example.org" pass a substring test.
    with pytest.raises(TypeError):
        check_origin("https://example.org/", "help.example.org")


def decode(png: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_qr_decodes_to_the_exact_url(lang: str) -> None:
    url = landing_url("help.example.org", TOKEN, lang)
    assert decode(qr_png(url, scale=4)) == [url]


@pytest.mark.parametrize("scale", [1, 3, 10])
def test_qr_png_size_border_and_colours(scale: int) -> None:
    url = landing_url("help.example.org", "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6", "zh-Hans")
    image = Image.open(io.BytesIO(qr_png(url, scale=scale))).convert("L")
    modules = qr_modules(url)
    assert image.size == (modules * scale, modules * scale)
    assert (modules - 2 * QUIET_ZONE - 17) % 4 == 0  # versions are 21, 25, 29, ... modules wide
    assert image.getextrema() == (0, 255)
    assert image.histogram()[1:255] == [0] * 254  # only black and white pixels
    border = QUIET_ZONE * scale
    for x in range(image.width):
        for y in (*range(border), *range(image.height - border, image.height)):
            assert image.getpixel((x, y)) == 255
            assert image.getpixel((y, x)) == 255
    assert image.getpixel((border, border)) == 0  # the finder pattern's corner
    if scale >= 3:
        assert decode(qr_png(url, scale=scale)) == [url]


# 31 bytes: segno would boost this one to level Q (it fits version 3 at Q) without boost_error=False
@pytest.mark.parametrize(
    "url", ["https://h.example.org/r/abcdefg", f"https://h.example.org/r/{TOKEN}"]
)
def test_qr_uses_error_correction_m(url: str) -> None:
    (result,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr_png(url, scale=4))))
    assert result.format == zxingcpp.BarcodeFormat.QRCode
    assert result.ec_level == "M"  # not boosted to Q or H even when it would fit


def test_qr_modules() -> None:
    url = landing_url("help.example.org", TOKEN, "en")  # 48 bytes at level M: version 4
    assert qr_modules(url) == 33 + 2 * QUIET_ZONE


@pytest.mark.parametrize("scale", [0, -1, 2.5, True])
def test_qr_png_refuses_bad_scales(scale: object) -> None:
    with pytest.raises(ValueError, match="scale"):
        qr_png("https://help.example.org/", scale)  # type: ignore[arg-type]
