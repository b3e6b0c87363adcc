"""One JSON request over HTTPS with the standard library (the kiosk's enrolment client and the
responder's report client): the status and the decoded object, or :class:`Unreachable`."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


class Unreachable(ConnectionError):
    """No answer (address, TLS, timeout) or an answer that is not JSON; the message says which."""


def request_json(
    url: str,
    method: str,
    body: dict[str, Any] | None,
    *,
    cafile: Path | None,
    timeout_s: float,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """(status, JSON object) for any answer, error statuses included (their body, or {})."""
    context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s, context=context) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        raise Unreachable(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from None
    try:
        payload = json.loads(raw or b"{}")
    except json.JSONDecodeError:
        if status >= 400:
            return status, {}
        raise Unreachable(f"{url}: the answer ({status}) is not JSON") from None
    return status, payload if isinstance(payload, dict) else {}
