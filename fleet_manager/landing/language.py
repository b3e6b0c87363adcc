"""Which language the landing page speaks (pure).

The ``?l=`` the QR code carries wins (it is the language the person was reading on the kiosk),
then the browser's Accept-Language in its order of preference, then English.
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT = "en"
MAX_PREFERENCES = 16
# Tags browsers send that name one of our languages under another code.
ALIASES = {"fil": "tl", "zh-cn": "zh-Hans", "zh-sg": "zh-Hans", "zh": "zh-Hans"}
# Chinese in Traditional script is not Simplified Chinese: better English than the wrong script.
_NOT_SIMPLIFIED = ("zh-hant", "zh-tw", "zh-hk", "zh-mo")


def accepted_languages(header: str | None) -> list[str]:
    """The tags of an Accept-Language header, most preferred first; malformed parts and q=0
    are dropped (no error: a browser's header is never a reason to refuse the page)."""
    if not header:
        return []
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[: MAX_PREFERENCES * 2]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*" or len(tag) > 35:
            continue
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        if not 0 < quality <= 1:  # also drops nan, which would scramble the order
            continue
        ranked.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(ranked)][:MAX_PREFERENCES]


def match_language(tag: str, available: Sequence[str]) -> str | None:
    """Our language for one tag: exact (any case), an alias, or its primary language."""
    lowered = tag.lower()
    by_lower = {code.lower(): code for code in available}
    if lowered in by_lower:
        return by_lower[lowered]
    if lowered.startswith(_NOT_SIMPLIFIED):
        return None
    for prefix, code in ALIASES.items():
        if (lowered == prefix or lowered.startswith(prefix + "-")) and code in available:
            return code
    primary = lowered.split("-")[0]
    return by_lower.get(primary)


def choose_language(
    asked: str | None, accept_language: str | None, available: Sequence[str]
) -> str:
    for tag in ([asked] if asked else []) + accepted_languages(accept_language):
        found = match_language(tag, available)
        if found is not None:
            return found
    return DEFAULT if DEFAULT in available else available[0]
