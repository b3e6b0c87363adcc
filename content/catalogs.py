"""Reading one gettext catalog (``.po``) into its translated messages, with Babel.

Shared by the landing page's texts and the training modules (the kiosk's bundle keeps its
catalogs as Babel objects for its own checks). An entry without a translation is left out, so
callers can say "not translated" for it.
"""

from __future__ import annotations

import io
from gettext import GNUTranslations
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po


def read_messages(po: Path) -> tuple[dict[str, str], list[str]]:
    """(msgid → translation, problems): a catalog that cannot be read is one problem."""
    try:
        with po.open("rb") as f:
            catalog = read_po(f, abort_invalid=True)
    except (OSError, PoFileError, ValueError) as exc:
        return {}, [f"{po}: cannot be read ({exc})"]
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    translations = GNUTranslations(buf)
    ids = [m.id for m in catalog if m.id and isinstance(m.id, str) and m.string]
    return {msgid: translations.gettext(msgid) for msgid in ids}, []
