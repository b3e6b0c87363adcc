"""QR targets: the landing URL of a location, the origin allow-list, and the QR code itself.

The URL carries an opaque location token on a neutral path, ``https://{origin}/r/{token}?l={lang}``,
never a word that says what the page is about. Kiosks refuse any target outside the allow-list
of origins baked into their device profile, so even signed content cannot send someone to a
stranger's page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

import segno

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PORT = r"(?:[1-9][0-9]{0,4})"
ORIGIN_PATTERN = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*(?::{_PORT})?$")
LANG_PATTERN = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")

QUIET_ZONE = 4  # modules of white border on every side (the QR standard's minimum)
ERROR_CORRECTION = "m"


class QrTargetError(ValueError):
    """A QR target that a kiosk must not show."""


def is_valid_origin(origin: str) -> bool:
    """``host[:port]``: lower-case DNS name or IPv4 address, optional port 1-65535, no scheme."""
    if ORIGIN_PATTERN.fullmatch(origin) is None:
        return False
    _, _, port = origin.partition(":")
    return not port or int(port) <= 65535


def landing_url(origin: str, location_token: str, lang: str) -> str:
    """``https://{origin}/r/{location_token}?l={lang}``; ``ValueError`` on a bad part."""
    if not is_valid_origin(origin):
        raise ValueError(
            f"origin {origin!r} must be a lower-case host[:port] without scheme or path"
        )
    if TOKEN_PATTERN.fullmatch(location_token) is None:
        raise ValueError(
            "location token must be 16-64 characters of A-Z, a-z, 0-9, '_' or '-' "
            "(an opaque random token, never a word)"
        )
    if LANG_PATTERN.fullmatch(lang) is None:
        raise ValueError(f"language {lang!r} is not a language tag such as 'en' or 'zh-Hans'")
    return f"https://{origin}/r/{location_token}?l={lang}"


def check_origin(url: str, allowed_origins: Sequence[str]) -> None:
    """Raise :class:`QrTargetError` unless ``url`` is https on exactly an allowed host[:port]."""
    if isinstance(allowed_origins, str):
        raise TypeError("allowed_origins must be a sequence of origins, not one string")
    if not url or any(not 0x21 <= ord(c) <= 0x7E for c in url):
        raise QrTargetError(f"QR target {url!r} is not a plain printable ASCII URL")
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise QrTargetError(f"QR target {url!r} must use https")
    if parts.netloc not in allowed_origins:
        allowed = ", ".join(allowed_origins) or "none"
        raise QrTargetError(
            f"QR target {url!r} is on origin {parts.netloc!r}, not on the allow-list ({allowed})"
        )


def _qr(url: str) -> segno.QRCode:
    return segno.make_qr(url, error=ERROR_CORRECTION, boost_error=False)


def qr_png(url: str, scale: int) -> bytes:
    """A PNG of ``url``'s QR code: error correction M, 4-module quiet zone, black on white.

    ``scale`` is pixels per module; the image is ``qr_modules(url) * scale`` pixels square.
    """
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a whole number of pixels per module >= 1, not {scale!r}")
    buf = io.BytesIO()
    _qr(url).save(buf, kind="png", scale=scale, border=QUIET_ZONE, dark="black", light="white")
    return buf.getvalue()


def qr_modules(url: str) -> int:
    """Width (= height) of ``url``'s QR symbol in modules, quiet zone included."""
    width, _ = _qr(url).symbol_size(scale=1, border=QUIET_ZONE)
    return int(width)
