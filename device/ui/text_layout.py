"""Line breaking for right-to-left text (pure).

Kivy's default text renderer neither shapes Arabic nor orders it right to left, so text is
shaped and reordered before it is drawn (content.fonts.display_text). Reordering a whole
paragraph and letting Kivy wrap it would put the lines in the wrong order, so right-to-left
text is broken into lines first, in reading order, and each line is reordered on its own.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable


def rtl_lines(text: str, max_chars: int, to_display: Callable[[str], str]) -> str:
    """Wrap ``text`` (logical order) at ``max_chars`` and reorder each line for display."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines += textwrap.wrap(paragraph, width=max(8, max_chars)) or [""]
    return "\n".join(to_display(line) for line in lines)


def chars_per_line(width_px: float, font_px: float) -> int:
    """A conservative estimate of how many characters fit on one line."""
    return max(8, int(width_px / (font_px * 0.55)))
