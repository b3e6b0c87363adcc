"""Engagement over the API and the console: counts per day, location and language, scoped by
facility (fay sees clinic-a only), refused to responders, CSV export audited and formula-safe."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from fleet_manager.store import audit_log, engagement
from fleet_manager.store.database import open_engine
from fleet_manager.store.schema import locations, metadata
from tests.support.console import ConsoleApp, console_app

TODAY = datetime.now(UTC).date()
D0 = (TODAY - timedelta(days=2)).isoformat()
D1 = (TODAY - timedelta(days=1)).isoformat()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleApp]:
    base: Path = tmp_path_factory.mktemp("engagement") / "system"
    with console_app(base) as found:
        with found.engine.begin() as conn:
            # A name that a spreadsheet would run as a formula, for the CSV guard.
            conn.execute(
                locations.update()
                .where(locations.c.location_id == "b-exam")
                .values(name='=HYPERLINK("http://evil")')
            )
            for day, location, kind, language, n in (
                (D0, "a-waiting", "help", "en", 2),
                (D0, "a-waiting", "qr_scan", "es-mx", 3),
                (D1, "a-restroom", "help", None, 1),
                (D1, "b-exam", "help", "en", 4),
            ):
                engagement.count(conn, day, location, kind, language, n)
            engagement.count(conn, D0, "a-waiting", "help", "EN", 1)  # same row, added
        yield found


def fetch(app: ConsoleApp, who: str, path: str) -> tuple[int, object]:
    """Status and JSON body of a GET by ``who``."""
    client = app.new_client()
    app.login(who, client)
    response = client.get(path)
    return response.status_code, response.json()


def test_ops_sees_every_location_with_totals(app: ConsoleApp) -> None:
    status, body = fetch(app, "olga", f"/api/v1/engagement?since={D0}&until={D1}")
    assert status == 200
    assert isinstance(body, dict)
    assert body["totals"] == {"help": 8, "qr_scan": 3}
    assert [d["day"] for d in body["per_day"]] == [D0, D1]
    assert body["per_day"][0] == {"day": D0, "help": 3, "qr_scan": 3}
    per_location = {t["location_id"]: t["total"] for t in body["per_location"]}
    assert per_location == {"a-waiting": 6, "b-exam": 4, "a-restroom": 1}
    languages = {t["language"]: (t["help"], t["qr_scan"]) for t in body["per_language"]}
    assert languages == {"en": (7, 0), "es-MX": (0, 3), "und": (1, 0)}


def test_default_range_is_the_last_30_days(app: ConsoleApp) -> None:
    status, body = fetch(app, "audra", "/api/v1/engagement")
    assert status == 200
    assert isinstance(body, dict)
    assert len(body["per_day"]) == 30
    assert body["until"] == TODAY.isoformat()
    assert body["totals"]["help"] == 8


def test_a_facility_admin_sees_only_their_facility(app: ConsoleApp) -> None:
    status, body = fetch(app, "fay", f"/api/v1/engagement?since={D0}&until={D1}")
    assert status == 200
    assert isinstance(body, dict)
    assert {r["facility_id"] for r in body["rows"]} == {"clinic-a"}
    assert body["totals"] == {"help": 4, "qr_scan": 3}
    # Another facility looks exactly like one that does not exist.
    other = fetch(app, "fay", "/api/v1/engagement?facility=clinic-b")
    unknown = fetch(app, "fay", "/api/v1/engagement?facility=clinic-zz")
    assert other == unknown
    assert other[0] == 404
    status, body = fetch(app, "fay", "/api/v1/engagement?facility=clinic-a")
    assert status == 200


@pytest.mark.parametrize("path", ["/api/v1/engagement", "/api/v1/engagement.csv"])
def test_responders_are_refused(app: ConsoleApp, path: str) -> None:
    status, body = fetch(app, "rita", path)
    assert status == 403
    assert isinstance(body, dict) and body["error"] == "forbidden"
    assert app.new_client().get(path).status_code == 401


@pytest.mark.parametrize(
    "query",
    [
        "since=2024-02-30",
        "since=yesterday",
        f"since={D1}&until={D0}",
        "since=2020-01-01&until=2022-01-01",
        "facility=clinic-a%00",
        "facility=",
    ],
)
def test_bad_ranges_are_refused_with_a_reason(app: ConsoleApp, query: str) -> None:
    status, body = fetch(app, "olga", f"/api/v1/engagement?{query}")
    assert status == 400
    assert isinstance(body, dict)
    assert body["error"] == "bad_request"
    assert body["message"]


def test_the_csv_export_is_audited_and_formula_safe(app: ConsoleApp) -> None:
    client = app.new_client()
    app.login("audra", client)
    response = client.get(f"/api/v1/engagement.csv?since={D0}&until={D1}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(response.text)))
    assert table[0][:3] == ["day", "facility_id", "facility_name"]
    assert len(table) == 1 + 4
    names = {row[5] for row in table[1:]}
    assert '\'=HYPERLINK("http://evil")' in names
    with app.engine.connect() as conn:
        exported = audit_log.entries(conn, action="engagement.exported")
    assert exported[-1].actor == "user:audra"
    assert exported[-1].detail["since"] == D0
    assert exported[-1].detail["rows"] == 4


def test_the_console_page_draws_the_chart_and_tables(app: ConsoleApp) -> None:
    client = app.new_client()
    app.login("fay", client)
    page = client.get(f"/console/engagement?since={D0}&until={D1}")
    assert page.status_code == 200
    html = page.text
    assert '<svg class="chart"' in html
    assert "A waiting room" in html and "B exam room" not in html
    assert "HYPERLINK" not in html
    assert "Download CSV" in html
    assert 'style="' not in html
    assert client.get("/console/engagement?facility=clinic-b").status_code == 404
    bad = client.get("/console/engagement?since=2024-13-01")
    assert bad.status_code == 400 and "not a day" in bad.text


def test_the_console_page_escapes_names_and_refuses_responders(app: ConsoleApp) -> None:
    client = app.new_client()
    app.login("olga", client)
    html = client.get(f"/console/engagement?since={D0}&until={D1}").text
    assert (
        "=HYPERLINK(&#34;http://evil&#34;)" in html or "=HYPERLINK(&quot;http://evil&quot;)" in html
    )
    rita = app.new_client()
    app.login("rita", rita)
    assert rita.get("/console/engagement").status_code == 403


def test_count_adds_up_under_the_same_key(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'e.db'}")
    metadata.create_all(engine)
    with engine.begin() as conn:
        for _ in range(3):
            engagement.count(conn, "2024-05-01", "loc", "help", "en")
        with pytest.raises(engagement.EngagementError):
            engagement.count(conn, "2024-05-01", "loc", "press", "en")
        total = conn.execute(sa.text("SELECT count FROM engagement_daily")).scalar()
    assert total == 3
    engine.dispose()
