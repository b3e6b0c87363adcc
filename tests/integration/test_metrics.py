"""/metrics over the real app: who may read it, and the fleet's figures in Prometheus format,
with counters and the alert-latency histogram summed over fleet manager instances' snapshots."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fleet_manager.accounts import token_store
from fleet_manager.accounts.policy import Grant
from fleet_manager.store.schema import metric_snapshots
from tests.integration.fleet_seed import seed
from tests.support.console import ConsoleApp, console_app

LE = [0.005, 0.01, 0.05, 0.1]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleApp]:
    with console_app(tmp_path_factory.mktemp("metrics") / "system") as found:
        seed(found.engine)
        now = time.time()
        with found.engine.begin() as conn:
            conn.execute(
                metric_snapshots.insert(),
                [
                    {
                        "instance": "fm-east",
                        "updated_at": now - 5,
                        "counters": {
                            "messages_ingested": 120,
                            "messages_rejected": 2,
                            "escalations": 4,
                        },
                        "histograms": {
                            "alert_ingest_seconds": {
                                "le": LE,
                                "counts": [10, 5, 1, 0, 0],
                                "sum": 0.12,
                                "count": 16,
                            }
                        },
                    },
                    {
                        "instance": "fm-west",
                        "updated_at": now - 7,
                        "counters": {
                            "messages_ingested": 80,
                            "alerts_duplicate": 3,
                            "worker_errors": 1,
                        },
                        "histograms": {
                            "alert_ingest_seconds": {
                                "le": LE,
                                "counts": [2, 0, 0, 1, 1],
                                "sum": 0.6,
                                "count": 4,
                            }
                        },
                    },
                ],
            )
        yield found


def token(app: ConsoleApp, grant: Grant) -> dict[str, str]:
    with app.engine.begin() as conn:
        secret, _ = token_store.create_api_token(
            conn, "prometheus", [grant], creator=None, owner=None, actor="test", now=time.time()
        )
    return {"Authorization": f"Bearer {secret}"}


def scrape(app: ConsoleApp) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = app.new_client().get("/metrics", headers=token(app, Grant("ops")))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_who_may_scrape(app: ConsoleApp) -> None:
    assert app.new_client().get("/metrics").status_code == 401
    bad = {"Authorization": "Bearer bct_" + "x" * 43}
    assert app.new_client().get("/metrics", headers=bad).status_code == 401
    for grant, status in (
        (Grant("ops"), 200),
        (Grant("auditor"), 403),
        (Grant("facility_admin", "clinic-a"), 403),
        (Grant("responder", region="east"), 403),
    ):
        assert app.new_client().get("/metrics", headers=token(app, grant)).status_code == status
    for who, status in (("olga", 200), ("fay", 403), ("audra", 403), ("rita", 403)):
        client = app.new_client()
        app.login(who, client)
        assert client.get("/metrics").status_code == status


def test_it_is_not_in_the_openapi_document(app: ConsoleApp) -> None:
    assert "/metrics" not in app.client.get("/api/v1/openapi.json").json()["paths"]


def test_incidents_kiosks_and_requests(app: ConsoleApp) -> None:
    found = scrape(app)
    assert found["beacon_incidents", (("kind", "help"), ("state", "opened"))] == 2
    assert found["beacon_incidents", (("kind", "help"), ("state", "resolved"))] == 1
    assert found["beacon_incidents", (("kind", "help"), ("state", "acknowledged"))] == 1
    assert found["beacon_incidents", (("kind", "drill"), ("state", "opened"))] == 1
    assert found["beacon_incidents_open", ()] == 4
    assert found["beacon_kiosks", (("lifecycle", "active"), ("state", "online"))] == 2
    assert found["beacon_kiosks", (("lifecycle", "active"), ("state", "offline"))] == 1
    assert found["beacon_kiosks", (("lifecycle", "revoked"), ("state", "offline"))] == 1


def test_counters_and_latency_are_summed_over_instances(app: ConsoleApp) -> None:
    found = scrape(app)
    assert found["beacon_messages_ingested_total", ()] == 200
    assert found["beacon_messages_rejected_total", ()] == 2
    assert found["beacon_alerts_duplicate_total", ()] == 3
    assert found["beacon_escalations_total", ()] == 4
    assert found["beacon_worker_errors_total", ()] == 1
    assert found["beacon_fleet_managers", ()] == 2
    cumulative = [
        found["beacon_alert_ingest_seconds_bucket", (("le", le),)]
        for le in ("0.005", "0.01", "0.05", "0.1", "+Inf")
    ]
    assert cumulative == [12, 17, 18, 19, 20]
    assert found["beacon_alert_ingest_seconds_count", ()] == 20
    assert found["beacon_alert_ingest_seconds_sum", ()] == pytest.approx(0.72)


def test_the_api_process_counts_its_own_events(app: ConsoleApp) -> None:
    app.new_client().get("/api/v1/audit")  # refused: counted as api_unauthenticated
    found = scrape(app)
    assert found["beacon_api_events_total", (("name", "api_unauthenticated"),)] >= 1
