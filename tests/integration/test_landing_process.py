"""The landing page as deployed: `beacon landing serve` over HTTPS beside the brokers and the
fleet manager. A report sent from a phone reaches the region's responders over MQTT as an
incident of kind "report", an addition as a new version; and the logs of the whole run hold no
client address, no user agent and no report text.

The client connects from 127.0.0.9 (any 127/8 address is local) so that its address cannot be
mistaken for the servers' own 127.0.0.1 in a log line.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx2
import pytest

from tests.support.live import TEST_PLAN, LiveSystem

CLIENT_ADDRESS = "127.0.0.9"
USER_AGENT = "PhoneOfSomeone/4.2 (QR scan; test-ua-7731)"
SECRET = "They keep my papers. landing-process-secret-5521"
ADDITION = "Friday at noon is safe. landing-process-secret-8830"
CODE = re.compile(r'id="case-code" dir="ltr">([^<]*)<')
PASSPHRASE = re.compile(r'id="case-passphrase" dir="ltr">([^<]*)<')
PLAN = replace(TEST_PLAN, landing_page=True, qr_origin="")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    system = LiveSystem(tmp_path_factory.mktemp("landing") / "system", PLAN)
    try:
        system.start(kiosks=False)
        # "No address in any log at any level": the landing page runs with DEBUG logging.
        config = system.layout.fleet_configs[0]
        config.write_text(config.read_text().replace("instance:", "log_level: DEBUG\ninstance:", 1))
        system.running.start_landing()
        yield system
    finally:
        system.stop()


@pytest.fixture(scope="module")
def phone(live: LiveSystem) -> Iterator[httpx2.Client]:
    trust = ssl.create_default_context(cafile=str(live.layout.ca_file))
    transport = httpx2.HTTPTransport(local_address=CLIENT_ADDRESS, verify=trust)
    with httpx2.Client(
        transport=transport,
        base_url=live.layout.landing_url,
        headers={"user-agent": USER_AGENT, "accept-language": "es-ES,es;q=0.9"},
    ) as client:
        yield client


def test_a_report_and_its_addition_reach_the_regions_responders(
    live: LiveSystem, phone: httpx2.Client
) -> None:
    token = live.layout.qr_tokens["a-waiting"]  # clinic-a, region east
    page = phone.get(f"/r/{token}")
    assert page.status_code == 200 and 'lang="es"' in page.text
    sent = phone.post(f"/r/{token}/report", data={"what": SECRET, "share": "unsure"})
    assert sent.status_code == 200, sent.text
    code, passphrase = CODE.findall(sent.text)[0], PASSPHRASE.findall(sent.text)[0]
    east = live.recorders["east"]
    opened = east.wait_for(lambda i: i.kind == "report", timeout=30)
    assert (opened.location, opened.facility, opened.report_entries) == (
        "a-waiting",
        "clinic-a",
        1,
    )
    assert opened.escalation.team == "central-ops"  # TEST_POLICY routes reports to catch-all
    added = phone.post(
        f"/r/{token}/add", data={"code": code, "passphrase": passphrase, "text": ADDITION}
    )
    assert added.status_code == 200, added.text
    update = east.wait_for(
        lambda i: i.incident_id == opened.incident_id and i.report_entries == 2, timeout=30
    )
    assert update.version > opened.version
    # Nothing of a report went to the other region.
    assert not [i for i in live.recorders["west"].received if i.kind == "report"]


def test_no_log_of_the_run_holds_an_address_an_agent_or_report_text(
    live: LiveSystem, phone: httpx2.Client
) -> None:
    token = live.layout.qr_tokens["b-exam"]
    # Answers that log a line: refusals of every kind, an unknown path, a bad method.
    assert phone.post(f"/r/{token}/report", content=b"\xff").status_code == 400
    assert phone.post(f"/r/{token}/report", data={"what": "x" * 5000}).status_code == 413
    wrong = {"code": "AAAA-AAAA", "passphrase": "123412341234", "text": SECRET}
    assert phone.post(f"/r/{token}/add", data=wrong).status_code == 403
    assert phone.get("/nothing-here").status_code == 404
    assert phone.put(f"/r/{token}").status_code == 405
    assert phone.get(f"/r/{token}?l=ar").status_code == 200
    live.running.landing.stop()  # its last lines (and the scan counts) are written on the way out
    logs = {
        "landing": live.running.landing.log_text(),
        "fleet": live.fleet_log(),
        **{
            f"broker-{name}": Path(log).read_text()
            for name, log in [("fleet", live.layout.base / "brokers/fleet/mosquitto.log")]
            if Path(log).exists()
        },
    }
    assert "landing_form_refused" in logs["landing"]  # the refusals above were logged …
    assert "report_incident_opened" in logs["fleet"]
    for name, text in logs.items():  # … and nothing about who sent them
        for needle in (CLIENT_ADDRESS, USER_AGENT, "test-ua-7731", SECRET, ADDITION, "They keep"):
            assert needle not in text, f"{needle!r} in the {name} log"
