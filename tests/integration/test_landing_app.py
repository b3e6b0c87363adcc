"""The landing page in process (Starlette's test client over the real app, a SQLite store, the
sample bundle and catalogs): what every response carries, what is stored, what is refused."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from fleet_manager.landing.app import MAX_BODY_BYTES, create_landing_app
from fleet_manager.reports.sealing import open_sealed
from fleet_manager.reports.submission import ReportContent
from fleet_manager.store import registry, report_store
from fleet_manager.store.schema import engagement_daily, report_entries, reports
from tests.support.landing import LandingWorld, landing_world

PRIVACY_HEADERS = {
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
}
SECRET = "The-plaintext-that-must-never-be-stored-7731"
CODE = re.compile(r'id="case-code" dir="ltr">([^<]*)<')
PASSPHRASE = re.compile(r'id="case-passphrase" dir="ltr">([^<]*)<')


def assert_private(response: Any) -> None:
    """The headers every landing response must carry, and no cookie."""
    headers = response.headers
    for name, value in PRIVACY_HEADERS.items():
        assert headers.get(name) == value, (name, headers.get(name))
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "http" not in csp
    assert headers["strict-transport-security"].startswith("max-age=31536000")
    assert "set-cookie" not in headers


@pytest.fixture
def world(tmp_path: Path) -> LandingWorld:
    return landing_world(tmp_path)


@pytest.fixture
def client(world: LandingWorld) -> Iterator[TestClient]:
    with TestClient(create_landing_app(world.app), base_url="https://testserver") as c:
        yield c


def send_report(client: TestClient, token: str, **fields: str) -> tuple[str, str]:
    answer = client.post(f"/r/{token}/report?l=en", data=fields)
    assert answer.status_code == 200, answer.text
    return CODE.findall(answer.text)[0], PASSPHRASE.findall(answer.text)[0]


def stored_bytes(tmp: Path) -> bytes:
    return b"".join(p.read_bytes() for p in tmp.glob("fleet.db*"))


# -- the page -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "accept", "lang", "direction", "title"),
    [
        ("?l=en", None, "en", "ltr", "Patient resources"),
        ("?l=es", "ar", "es", "ltr", "Recursos para pacientes"),
        ("?l=ar", None, "ar", "rtl", "موارد للمرضى"),
        ("", "es-MX,es;q=0.9,en;q=0.5", "es", "ltr", "Recursos para pacientes"),
        ("", "zh-CN", "zh-Hans", "ltr", None),
        ("?l=xx", "de-DE", "en", "ltr", "Patient resources"),
    ],
)
def test_the_page_speaks_the_asked_then_the_browser_language(
    client: TestClient,
    world: LandingWorld,
    query: str,
    accept: str | None,
    lang: str,
    direction: str,
    title: str | None,
) -> None:
    headers = {"accept-language": accept} if accept else {}
    page = client.get(f"/r/{world.tokens['n-waiting']}{query}", headers=headers)
    assert page.status_code == 200
    assert_private(page)
    assert f'<html lang="{lang}" dir="{direction}">' in page.text
    if title is not None:
        assert f"<title>{title}</title>" in page.text
    assert 'href="tel:+18883737888"' in page.text and "1-888-373-7888" in page.text
    # The text line serves English and Spanish only.
    assert ('href="sms:233733"' in page.text) == (lang in ("en", "es"))
    # Nothing to load from anywhere: no external stylesheet, script, image or font.
    assert not re.search(r"<(link|img|iframe)\b|<script src|url\(", page.text)


def test_an_unknown_or_retired_token_gets_the_same_page(
    client: TestClient, world: LandingWorld
) -> None:
    token = world.tokens["n-waiting"]
    known = client.get(f"/r/{token}?l=es").text.replace(token, "TOKEN")
    unknown = client.get("/r/NoSuchTokenAtAll00000?l=es").text.replace(
        "NoSuchTokenAtAll00000", "TOKEN"
    )
    assert unknown == known
    now = time.time()
    with world.engine.begin() as conn:
        # Rotated with no grace: the old token stops at once.
        registry.rotate_location_token(conn, "n-waiting", now, grace_s=0.0)
    world.app._tokens.clear()  # the cache would keep the old answer for token_cache_s
    retired = client.get(f"/r/{token}?l=es")
    assert retired.status_code == 200
    assert retired.text.replace(token, "TOKEN") == known


def test_scans_are_counted_per_location_day_and_language_only(
    client: TestClient, world: LandingWorld
) -> None:
    token = world.tokens["n-restroom"]
    for lang in ("es", "es", "ar"):
        assert client.get(f"/r/{token}?l={lang}").status_code == 200
    client.get("/r/NoSuchTokenAtAll00000?l=es")  # not counted: no location
    world.app.flush()
    with world.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                engagement_daily.c.location_id,
                engagement_daily.c.kind,
                engagement_daily.c.language,
                engagement_daily.c.count,
            ).order_by(engagement_daily.c.language)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("n-restroom", "qr_scan", "ar", 1),
        ("n-restroom", "qr_scan", "es", 2),
    ]


# -- reports --------------------------------------------------------------------------------


def test_a_report_is_stored_only_as_ciphertext_that_the_region_key_opens(
    client: TestClient, world: LandingWorld, tmp_path: Path
) -> None:
    send_report(
        client,
        world.tokens["n-waiting"],
        what=SECRET,
        contact_method="text only, after 6pm",
        share="no",
        do_not_contact="on",
    )
    assert SECRET.encode() not in stored_bytes(tmp_path)
    assert b"after 6pm" not in stored_bytes(tmp_path)
    with world.engine.connect() as conn:
        report = conn.execute(sa.select(reports)).one()
        entry = conn.execute(sa.select(report_entries)).one()
    assert (report.region, report.facility_id, report.location_id) == (
        "north",
        "clinic-n",
        "n-waiting",
    )
    content = ReportContent.from_bytes(
        open_sealed(bytes(entry.ciphertext), world.keys["north"], report.report_id, 1)
    )
    assert (content.what, content.share_with_law_enforcement, content.do_not_contact) == (
        SECRET,
        "no",
        True,
    )
    assert content.language == "en"


def test_a_report_from_an_unknown_token_still_reaches_the_default_region(
    client: TestClient, world: LandingWorld
) -> None:
    send_report(client, "NoSuchTokenAtAll00000", what="help")
    with world.engine.connect() as conn:
        report = conn.execute(sa.select(reports)).one()
    assert (report.region, report.location_id, report.facility_id) == ("north", "unknown", None)


def test_without_a_region_key_the_report_is_refused_clearly_and_nothing_is_stored(
    tmp_path: Path,
) -> None:
    world = landing_world(tmp_path, regions_with_keys=("south",))
    with TestClient(create_landing_app(world.app), base_url="https://testserver") as client:
        answer = client.post(f"/r/{world.tokens['n-waiting']}/report", data={"what": SECRET})
    assert answer.status_code == 503
    assert "cannot be sent just now" in answer.text and "Call" in answer.text
    assert_private(answer)
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(reports)).scalar() == 0
    assert world.app.counters.get("landing_reports_no_key") == 1


def test_an_addition_needs_the_code_and_passphrase(
    client: TestClient, world: LandingWorld, tmp_path: Path
) -> None:
    token = world.tokens["n-waiting"]
    code, passphrase = send_report(client, token, what="first")
    wrong = [
        {"code": code, "passphrase": "0000 0000 0000", "text": "x"},
        {"code": "ZZZZ-ZZZZ", "passphrase": passphrase, "text": "x"},
        {"code": "", "passphrase": "", "text": "x"},
    ]
    for form in wrong:
        answer = client.post(f"/r/{token}/add?l=en", data=form)
        assert answer.status_code == 403 and "do not match" in answer.text
        assert_private(answer)
    # Typed loosely: lower case, no dash, spaces in the passphrase.
    loose = {"code": code.lower().replace("-", ""), "passphrase": passphrase, "text": SECRET}
    added = client.post(f"/r/{token}/add?l=en", data=loose)
    assert added.status_code == 200 and "same response team" in added.text
    with world.engine.connect() as conn:
        report = conn.execute(sa.select(reports)).one()
        second = report_store.entries(conn, report.report_id)[1]
    assert second.seq == 2
    opened = ReportContent.from_bytes(
        open_sealed(second.ciphertext, world.keys["north"], report.report_id, 2)
    )
    assert (opened.kind, opened.what) == ("addition", SECRET)
    assert SECRET.encode() not in stored_bytes(tmp_path)


def test_reports_and_wrong_codes_are_limited_per_client(tmp_path: Path) -> None:
    limits = {"reports_per_hour": 2, "wrong_codes_per_hour": 3}
    world = landing_world(tmp_path, settings={"limits": limits})
    token = world.tokens["n-waiting"]
    with TestClient(create_landing_app(world.app), base_url="https://testserver") as client:
        statuses = [
            client.post(f"/r/{token}/report", data={"what": "x"}).status_code for _ in range(3)
        ]
        assert statuses == [200, 200, 429]
        busy = client.post(f"/r/{token}/report", data={"what": "x"})
        assert "Too many messages" in busy.text
        wrong = {"code": "AAAA-AAAA", "passphrase": "111122223333", "text": "x"}
        codes = [client.post(f"/r/{token}/add", data=wrong).status_code for _ in range(4)]
        assert codes == [403, 403, 403, 429]
    # What the limiter keeps: keyed hashes, never an address.
    kept = " ".join(key for _, key in world.app.limits.counts)
    assert "testclient" not in kept and "127.0.0.1" not in kept


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        (b"what=" + b"x" * 4001, "application/x-www-form-urlencoded", 413, "What is happening?"),
        (b"contact_time=" + b"y" * 201, "application/x-www-form-urlencoded", 413, "safe time"),
        (b"what=\xff\xfe", "application/x-www-form-urlencoded", 400, "could not be read"),
        (b"share=maybe", "application/x-www-form-urlencoded", 400, "could not be read"),
        (b"what=a&what=b", "application/x-www-form-urlencoded", 400, "could not be read"),
        (
            b"&".join(b"f%d=1" % i for i in range(30)),
            "application/x-www-form-urlencoded",
            400,
            "could not be read",
        ),
        (b'{"what": "x"}', "application/json", 400, "could not be read"),
        (b"--b\r\n", "multipart/form-data; boundary=b", 400, "could not be read"),
    ],
)
def test_malformed_reports_get_a_clear_error_and_a_counter(
    client: TestClient,
    world: LandingWorld,
    body: bytes,
    content_type: str,
    status: int,
    says: str,
) -> None:
    answer = client.post(
        f"/r/{world.tokens['n-waiting']}/report?l=en",
        content=body,
        headers={"content-type": content_type},
    )
    assert answer.status_code == status
    assert says in answer.text
    assert_private(answer)
    assert sum(v for k, v in world.app.counters.snapshot().items() if "refused" in k) == 1
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(reports)).scalar() == 0


def test_oversized_and_unframed_bodies_are_refused_before_reading(
    client: TestClient, world: LandingWorld
) -> None:
    url = f"/r/{world.tokens['n-waiting']}/report"
    big = client.post(url, content=b"a" * (MAX_BODY_BYTES + 1))
    assert big.status_code == 413
    assert_private(big)

    def chunks() -> Iterator[bytes]:
        yield b"what=x"

    unframed = client.post(url, content=chunks())  # chunked: no Content-Length
    assert unframed.status_code == 411
    assert_private(unframed)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 404),
        ("GET", "/r/", 404),
        ("GET", "/console/", 404),
        ("PUT", "/r/abc", 405),
        ("GET", "/r/abc/report", 405),
        ("GET", "/healthz", 200),
    ],
)
def test_every_other_answer_carries_the_same_headers(
    client: TestClient, method: str, path: str, status: int
) -> None:
    answer = client.request(method, path)
    assert answer.status_code == status
    assert_private(answer)


FORM_FIELDS = st.sampled_from(
    [
        "what",
        "contact_method",
        "contact_time",
        "do_not_contact",
        "share",
        "code",
        "passphrase",
        "text",
        "l",
        "x",
    ]
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(["report", "add"]),
    fields=st.lists(st.tuples(FORM_FIELDS, st.text(max_size=300)), max_size=8),
    raw=st.one_of(st.none(), st.binary(max_size=400)),
    lang=st.text(max_size=12),
)
def test_fuzzed_form_input_never_yields_a_server_error(
    client: TestClient,
    world: LandingWorld,
    path: str,
    fields: list[tuple[str, str]],
    raw: bytes | None,
    lang: str,
) -> None:
    url = f"/r/{world.tokens['n-waiting']}/{path}"
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if raw is not None:
        answer = client.post(url, params={"l": lang}, content=raw, headers=headers)
    else:
        answer = client.post(url, params={"l": lang}, content=urlencode(fields), headers=headers)
    assert answer.status_code < 500, answer.text[:300]
    assert_private(answer)


def test_a_burst_of_simultaneous_requests_cannot_slip_past_the_limits(tmp_path: Path) -> None:
    """Argon2 takes long: every request of a burst must be counted before any of them runs it."""
    world = landing_world(tmp_path)  # default limits: 5 reports, 10 wrong codes an hour
    token = world.tokens["n-waiting"]
    transport = httpx2.ASGITransport(app=create_landing_app(world.app))

    async def burst(path: str, form: dict[str, str], n: int) -> list[int]:
        async with httpx2.AsyncClient(transport=transport, base_url="https://t") as client:
            sent = [client.post(f"/r/{token}/{path}", data=form) for _ in range(n)]
            return sorted(r.status_code for r in await asyncio.gather(*sent))

    reports = asyncio.run(burst("report", {"what": "x"}, 20))
    assert reports == [200] * 5 + [429] * 15
    wrong = {"code": "AAAA-AAAA", "passphrase": "111122223333", "text": "x"}
    guesses = asyncio.run(burst("add", wrong, 20))
    assert guesses == [403] * 10 + [429] * 10


@pytest.mark.parametrize(
    ("trusted", "statuses"),
    [
        # Behind a trusted proxy, each client is counted apart (a limit of 1 an hour each).
        (["127.0.0.0/8"], [200, 200, 429]),
        # No proxy configured: the header is ignored, everyone behind it is one client.
        ([], [200, 429, 429]),
    ],
)
def test_behind_a_trusted_proxy_each_client_is_counted_apart(
    tmp_path: Path, trusted: list[str], statuses: list[int]
) -> None:
    limits = {"reports_per_hour": 1}
    world = landing_world(tmp_path, settings={"limits": limits, "trusted_proxies": trusted})
    token = world.tokens["n-waiting"]
    transport = httpx2.ASGITransport(app=create_landing_app(world.app), client=("127.0.0.1", 40000))

    async def send(forwarded: str) -> int:
        async with httpx2.AsyncClient(transport=transport, base_url="https://t") as client:
            answer = await client.post(
                f"/r/{token}/report", data={"what": "x"}, headers={"x-forwarded-for": forwarded}
            )
            return answer.status_code

    got = [asyncio.run(send(f)) for f in ("203.0.113.1", "203.0.113.2", "203.0.113.1")]
    assert got == statuses
