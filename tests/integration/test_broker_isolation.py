"""The broker ACLs and bridges, proved against real Mosquitto brokers with real certificates.

Each "nothing arrives" check is paired with a positive control on the same connections, so a
test cannot pass merely because nothing works. Where a control message is published after the
forbidden ones, Mosquitto's in-order delivery means anything forbidden would have come first.
"""

from __future__ import annotations

import socket
import ssl
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet_manager.brokers.mosquitto_config import render_responder_acl
from fleet_manager.brokers.runner import (
    MosquittoProcess,
    broker_paths,
    free_port,
    write_broker_files,
)
from protocol import topics
from protocol.identities import bridge_identity, responder_identity
from provisioning.ca import create_fleet_ca, issue_certificate, write_tls_files
from provisioning.tls import TlsFiles
from tests.integration.brokers_fixture import (
    Broker,
    BrokerSet,
    MqttConnectError,
    Received,
    TestClient,
    connect_test_client,
    mqtt_client,
    named_responder_acl,
    start_broker_set,
)

# MQTT 5 PUBACK reason codes from Mosquitto 2.0.11: an ACL-denied publish gets 135; an accepted
# one gets 0, or 16 when no subscription matched.
NOT_AUTHORIZED = 135
SUCCESS = 0
ACCEPTED = (SUCCESS, 16)
QUIET = 1.0  # how long "nothing arrives" waits
ALL_ALERTS = f"{topics.ROOT}/dev/+/alert"
ALL_ACKS = f"{topics.ROOT}/resp/+/ack/+"


def _watcher(region: str) -> str:
    return responder_identity(region, "watcher")


def _responder_acl_with_watcher(region: str) -> str:
    """The fixture's real ACL plus a test-only user who may read everything, to see what
    crosses."""
    return named_responder_acl(region) + f"\nuser {_watcher(region)}\ntopic read #\n"


@pytest.fixture(scope="module")
def brokers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerSet]:
    with start_broker_set(
        tmp_path_factory.mktemp("brokers"),
        regions=("r1", "r2"),
        fleet_manager_instances=("1", "2"),
        responder_acl=_responder_acl_with_watcher,
    ) as started:
        yield started


@pytest.fixture
def clients(brokers: BrokerSet) -> Iterator[dict[str, TestClient]]:
    """Connected clients by identity: kiosks and the fleet manager on the fleet broker,
    responders on their region's broker."""
    connected: dict[str, TestClient] = {}

    def on(broker: Broker, identity: str) -> None:
        connected[identity] = connect_test_client(broker, brokers.client_tls(identity), identity)

    for identity in ("kiosk-a", "kiosk-b", "fleet-manager-1"):
        on(brokers.fleet, identity)
    on(brokers.responders["r1"], "responder-r1-alice")
    on(brokers.responders["r1"], _watcher("r1"))
    on(brokers.responders["r2"], "responder-r2-bob")
    yield connected
    for client in connected.values():
        client.close()


def _topics(messages: list[Received]) -> list[str]:
    return [message.topic for message in messages]


# -- positive controls -------------------------------------------------------------------------


def test_kiosk_alert_reaches_fleet_manager_through_shared_subscription(
    clients: dict[str, TestClient],
) -> None:
    fleet_manager, kiosk = clients["fleet-manager-1"], clients["kiosk-a"]
    # Mosquitto accepts any subscription; what matters is whether anything is delivered.
    assert fleet_manager.subscribe(topics.shared(ALL_ALERTS)) == [1]
    assert kiosk.publish(topics.device_alert("kiosk-a"), b"help") in ACCEPTED
    message = fleet_manager.expect(topics.device_alert("kiosk-a"), payload=b"help")
    assert not message.retain


def test_fleet_manager_instances_split_shared_alerts(
    brokers: BrokerSet, clients: dict[str, TestClient]
) -> None:
    first, kiosk = clients["fleet-manager-1"], clients["kiosk-a"]
    second = connect_test_client(
        brokers.fleet, brokers.client_tls("fleet-manager-2"), "fleet-manager-2"
    )
    try:
        for instance in (first, second):
            instance.subscribe(topics.shared(ALL_ALERTS))
        sent = [str(n).encode() for n in range(6)]
        for payload in sent:
            assert kiosk.publish(topics.device_alert("kiosk-a"), payload) in ACCEPTED
        got_first = [m.payload for m in first.collect(QUIET)]
        got_second = [m.payload for m in second.collect(0.2)]
        # Each alert goes to exactly one instance, and both instances take a share.
        assert sorted(got_first + got_second) == sent
        assert got_first and got_second
    finally:
        second.close()


def test_incident_crosses_to_its_region_and_ack_comes_back(
    clients: dict[str, TestClient],
) -> None:
    fleet_manager, alice = clients["fleet-manager-1"], clients["responder-r1-alice"]
    alice.subscribe(topics.responder_incidents_filter("r1"))
    fleet_manager.subscribe(topics.shared(ALL_ACKS))

    incident = topics.responder_incident("r1", "x")
    # Not retained here: later tests on this module's brokers subscribe to "#".
    assert fleet_manager.publish(incident, b"opened") in ACCEPTED
    assert alice.expect(incident, payload=b"opened").payload == b"opened"

    ack = topics.responder_ack("r1", "x")
    assert alice.publish(ack, b"ack") in ACCEPTED
    fleet_manager.expect(ack, payload=b"ack")


# -- kiosk isolation on the fleet broker -------------------------------------------------------

FORBIDDEN_FOR_KIOSK_A = [
    topics.device_status("kiosk-b"),
    topics.device_telemetry("kiosk-b"),
    topics.device_alert("kiosk-b"),
    topics.device_event("kiosk-b"),
    topics.device_command_result("kiosk-b", "c1"),
    topics.device_command("kiosk-b", "c1"),
    topics.device_command("kiosk-a", "c1"),  # a kiosk cannot command even itself
    topics.content_channel("default"),  # content comes only from the fleet
    topics.responder_incident("r1", "forged"),
    topics.responder_ack("r1", "forged"),
    "beacon/v1/dev/kiosk-b",
    "anything/else",
]


def test_kiosk_cannot_publish_outside_its_own_subtree(clients: dict[str, TestClient]) -> None:
    fleet_manager, kiosk_a = clients["fleet-manager-1"], clients["kiosk-a"]
    # A watcher with fleet-manager rights on everything it may read.
    fleet_manager.subscribe("beacon/v1/dev/#")
    fleet_manager.subscribe("beacon/v1/content/#")
    fleet_manager.subscribe(ALL_ACKS)

    codes = {topic: kiosk_a.publish(topic, b"forged") for topic in FORBIDDEN_FOR_KIOSK_A}
    assert codes == dict.fromkeys(FORBIDDEN_FOR_KIOSK_A, NOT_AUTHORIZED)

    control = topics.device_event("kiosk-a")
    assert kiosk_a.publish(control, b"control") in ACCEPTED
    assert _topics(fleet_manager.receive_until(control)) == [control]


@pytest.mark.parametrize(
    "topic_filter",
    [
        topics.device_commands_filter("kiosk-b"),
        topics.shared(topics.device_commands_filter("kiosk-b"), group="evil"),
        "beacon/v1/dev/#",
        topics.shared("beacon/v1/dev/#", group="evil"),
        "beacon/v1/resp/#",
        "#",
    ],
)
def test_kiosk_cannot_read_other_kiosks_or_responder_topics(
    clients: dict[str, TestClient], topic_filter: str
) -> None:
    fleet_manager, kiosk_a, kiosk_b = (
        clients["fleet-manager-1"],
        clients["kiosk-a"],
        clients["kiosk-b"],
    )
    kiosk_b.subscribe(topics.device_commands_filter("kiosk-b"))
    kiosk_a.subscribe(topics.device_commands_filter("kiosk-a"))
    kiosk_a.subscribe(topic_filter)

    command_b = topics.device_command("kiosk-b", "c1")
    assert fleet_manager.publish(command_b, b"for b") in ACCEPTED
    kiosk_b.expect(command_b)  # positive control: the command exists and is delivered
    assert kiosk_b.publish(topics.device_alert("kiosk-b"), b"b's alert") in ACCEPTED
    assert fleet_manager.publish(topics.responder_incident("r1", "y"), b"incident") in ACCEPTED

    control = topics.device_command("kiosk-a", "c2")
    assert fleet_manager.publish(control, b"for a") in ACCEPTED
    received = kiosk_a.receive_until(control)
    assert set(_topics(received)) == {control}


def test_kiosk_cannot_take_over_another_kiosks_client_id(
    brokers: BrokerSet, clients: dict[str, TestClient]
) -> None:
    fleet_manager, kiosk_b = clients["fleet-manager-1"], clients["kiosk-b"]
    kiosk_b.subscribe(topics.device_commands_filter("kiosk-b"))
    # The real kiosk-a, without auto-reconnect, so it cannot bounce the impostor back out.
    clients["kiosk-a"].close()
    kiosk_a = connect_test_client(
        brokers.fleet, brokers.client_tls("kiosk-a"), "kiosk-a", reconnect=False
    )

    # kiosk-a's certificate asking for kiosk-b's client id: the broker uses the CN instead.
    impostor = connect_test_client(brokers.fleet, brokers.client_tls("kiosk-a"), "kiosk-b")
    try:
        impostor.subscribe(topics.device_commands_filter("kiosk-b"))
        command = topics.device_command("kiosk-b", "after-impostor")
        assert fleet_manager.publish(command, b"still b") in ACCEPTED
        kiosk_b.expect(command, payload=b"still b")
        assert impostor.collect(QUIET) == []
        assert kiosk_b.disconnects == []
        # Positive control: the impostor landed in kiosk-a's place, taking over kiosk-a.
        assert kiosk_a.disconnects != []
    finally:
        impostor.close()
        kiosk_a.close()


# -- who may connect ---------------------------------------------------------------------------


def _tls_handshake_then_read(
    port: int, cafile: Path, cert: TlsFiles | None, read_timeout: float = 2.0
) -> None:
    """Complete a TLS connection as a client and read once; raises ssl.SSLError if refused.

    With TLS 1.3 the server checks the client certificate after the client's handshake ends, so
    the refusal arrives as an alert on the first read.
    """
    context = ssl.create_default_context(cafile=str(cafile))
    if cert is not None:
        context.load_cert_chain(str(cert.certfile), str(cert.keyfile))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.settimeout(read_timeout)
        tls.recv(1)


@pytest.fixture(scope="module")
def foreign_kiosk_a(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """kiosk-a's name on a certificate from a CA the brokers do not trust."""
    other = create_fleet_ca(common_name="Beacon Fleet CA")  # same name, different key
    issued = issue_certificate(other, "kiosk-a", usage="client")
    return write_tls_files(tmp_path_factory.mktemp("foreign"), other.cert_pem(), issued)


def test_certificate_from_another_ca_is_refused_at_tls(
    brokers: BrokerSet, foreign_kiosk_a: TlsFiles
) -> None:
    kiosk_a = brokers.client_tls("kiosk-a")
    with pytest.raises(ssl.SSLError, match="UNKNOWN_CA"):
        _tls_handshake_then_read(brokers.fleet.port, kiosk_a.cafile, foreign_kiosk_a)
    # Positive control: the real certificate passes TLS; the broker then waits for CONNECT.
    with pytest.raises(TimeoutError):
        _tls_handshake_then_read(brokers.fleet.port, kiosk_a.cafile, kiosk_a, read_timeout=0.5)
    # The same through paho, trusting the real broker CA but presenting the foreign cert.
    mixed = TlsFiles(kiosk_a.cafile, foreign_kiosk_a.certfile, foreign_kiosk_a.keyfile)
    with pytest.raises(MqttConnectError):
        mqtt_client(brokers.fleet.host, brokers.fleet.port, mixed, "kiosk-a", timeout=3.0)


def test_client_without_certificate_is_refused(brokers: BrokerSet) -> None:
    cafile = brokers.client_tls("kiosk-a").cafile
    for port in (brokers.fleet.port, brokers.responders["r1"].port):
        with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED"):
            _tls_handshake_then_read(port, cafile, None)


def test_server_certificate_cannot_log_in_as_a_client(brokers: BrokerSet) -> None:
    """ExtendedKeyUsage is enforced: a broker's serverAuth certificate is not a client identity."""
    server_tls = brokers.fleet.directory / "tls"
    as_client = TlsFiles(server_tls / "ca.pem", server_tls / "cert.pem", server_tls / "key.pem")
    with pytest.raises(ssl.SSLError, match="UNSUPPORTED_CERTIFICATE"):
        _tls_handshake_then_read(brokers.fleet.port, as_client.cafile, as_client)


# An MQTT 3.1.1 CONNECT for client id "kiosk-a", keepalive 60, clean session.
PLAIN_CONNECT = bytes([0x10, 19, 0, 4, *b"MQTT", 4, 2, 0, 60, 0, 7, *b"kiosk-a"])


def test_plain_tcp_mqtt_is_not_served(brokers: BrokerSet) -> None:
    with socket.create_connection((brokers.fleet.host, brokers.fleet.port), timeout=5) as raw:
        raw.sendall(PLAIN_CONNECT)
        try:
            answer = raw.recv(4)
        except ConnectionResetError:
            answer = b""
    assert not answer.startswith(b"\x20")  # no CONNACK


# -- the bridge carries only its region's incidents out and acks in -----------------------------


def test_only_the_regions_incidents_reach_its_responder_broker(
    clients: dict[str, TestClient],
) -> None:
    fleet_manager, kiosk_a = clients["fleet-manager-1"], clients["kiosk-a"]
    watcher, bob = clients[_watcher("r1")], clients["responder-r2-bob"]
    watcher.subscribe("#")  # may read everything on r1's broker: sees whatever crosses
    bob.subscribe(topics.responder_incidents_filter("r2"))
    fleet_manager.subscribe(topics.shared(ALL_ACKS))

    r2_incident = topics.responder_incident("r2", "z")
    assert fleet_manager.publish(r2_incident, b"r2 only") in ACCEPTED
    bob.expect(r2_incident)  # positive control: the r2 bridge works
    r2_ack = topics.responder_ack("r2", "z")
    assert bob.publish(r2_ack, b"r2 ack") in ACCEPTED
    fleet_manager.expect(r2_ack)  # and carries r2's acks back
    # Device and content traffic stays on the fleet broker.
    assert kiosk_a.publish(topics.device_alert("kiosk-a"), b"alert") in ACCEPTED
    assert kiosk_a.publish(topics.device_status("kiosk-a"), b"online") in ACCEPTED
    assert fleet_manager.publish(topics.device_command("kiosk-a", "c1"), b"cmd") in ACCEPTED
    assert fleet_manager.publish(topics.content_channel("default"), b"v2") in ACCEPTED

    control = topics.responder_incident("r1", "control")
    assert fleet_manager.publish(control, b"r1") in ACCEPTED
    assert set(_topics(watcher.receive_until(control))) == {control}


def _permissive_responder_acl(region: str) -> str:
    """Test-only: the bridge and the watcher may do anything, so only the bridge's own topic
    lines decide what crosses (the real ACL would otherwise also stop strays)."""
    return (
        f"user {bridge_identity(region)}\ntopic readwrite #\n"
        f"user {_watcher(region)}\ntopic readwrite #\n"
    )


def test_bridge_topic_lines_alone_keep_everything_else_on_its_side(tmp_path: Path) -> None:
    with start_broker_set(
        tmp_path,
        regions=("r1", "r2"),
        responder_acl=_permissive_responder_acl,
        extra_user_grants={"fleet-watcher": [("read", "#")]},
    ) as brokers:
        fleet_manager = connect_test_client(
            brokers.fleet, brokers.client_tls("fleet-manager-1"), "fleet-manager-1"
        )
        fleet_watcher = connect_test_client(
            brokers.fleet, brokers.client_tls("fleet-watcher"), "fleet-watcher"
        )
        kiosk = connect_test_client(brokers.fleet, brokers.client_tls("kiosk-a"), "kiosk-a")
        r1_watcher = connect_test_client(
            brokers.responders["r1"], brokers.client_tls(_watcher("r1")), _watcher("r1")
        )
        try:
            r1_watcher.subscribe("#")
            fleet_watcher.subscribe("#")
            # Out: nothing but r1's incidents leaves the fleet broker towards r1.
            assert kiosk.publish(topics.device_alert("kiosk-a"), b"alert") in ACCEPTED
            assert fleet_manager.publish(topics.device_command("kiosk-a", "c"), b"c") in ACCEPTED
            assert fleet_manager.publish(topics.content_channel("default"), b"v") in ACCEPTED
            assert fleet_manager.publish(topics.responder_incident("r2", "i"), b"r2") in ACCEPTED
            out_control = topics.responder_incident("r1", "control")
            assert fleet_manager.publish(out_control, b"r1") in ACCEPTED
            assert set(_topics(r1_watcher.receive_until(out_control))) == {out_control}

            # In: nothing but r1's acks comes back from r1's broker.
            fleet_watcher.collect(0.2)  # drop the fleet-side traffic above
            for stray in (
                topics.device_command("kiosk-a", "evil"),
                topics.content_channel("default"),
                topics.responder_incident("r1", "forged"),
                topics.responder_ack("r2", "forged"),
            ):
                assert r1_watcher.publish(stray, b"stray") in ACCEPTED
            in_control = topics.responder_ack("r1", "control")
            assert r1_watcher.publish(in_control, b"ack") in ACCEPTED
            assert set(_topics(fleet_watcher.receive_until(in_control))) == {in_control}
        finally:
            for client in (fleet_manager, fleet_watcher, kiosk, r1_watcher):
                client.close()


def test_responder_cannot_forge_incidents_or_other_regions_acks(
    clients: dict[str, TestClient],
) -> None:
    fleet_manager, alice = clients["fleet-manager-1"], clients["responder-r1-alice"]
    fleet_manager.subscribe(topics.shared(ALL_ACKS))
    alice.subscribe(topics.responder_incidents_filter("r1"))

    assert alice.publish(topics.responder_incident("r1", "forged"), b"x") == NOT_AUTHORIZED
    assert alice.publish(topics.responder_ack("r2", "forged"), b"x") == NOT_AUTHORIZED
    assert alice.publish(topics.device_alert("kiosk-a"), b"x") == NOT_AUTHORIZED

    control = topics.responder_ack("r1", "control")
    assert alice.publish(control, b"ok") in ACCEPTED
    assert set(_topics(fleet_manager.receive_until(control))) == {control}
    assert alice.collect(0.2) == []


def _reversed_responder_acl(region: str) -> str:
    """The bridge's rights the wrong way round: reads incidents, writes acks."""
    identity = bridge_identity(region)
    correct = named_responder_acl(region)
    head = correct.split(f"user {identity}")[0]
    return (
        f"{head}user {identity}\n"
        f"topic read {topics.responder_incidents_filter(region)}\n"
        f"topic write {topics.responder_acks_filter(region)}\n"
    )


def test_responder_broker_enforces_its_acl_on_the_bridge(tmp_path: Path) -> None:
    """With the bridge's rights reversed nothing crosses, so the direction in
    render_responder_acl (write incidents, read acks) is the one that matters."""
    with start_broker_set(
        tmp_path, regions=("r1",), responder_acl=_reversed_responder_acl
    ) as brokers:
        fleet_manager = connect_test_client(
            brokers.fleet, brokers.client_tls("fleet-manager-1"), "fleet-manager-1"
        )
        alice = connect_test_client(
            brokers.responders["r1"], brokers.client_tls("responder-r1-alice"), "responder-r1-alice"
        )
        try:
            alice.subscribe(topics.responder_incidents_filter("r1"))
            fleet_manager.subscribe(topics.shared(ALL_ACKS))
            assert fleet_manager.publish(topics.responder_incident("r1", "x"), b"i") in ACCEPTED
            assert alice.publish(topics.responder_ack("r1", "x"), b"a") in ACCEPTED
            # The bridge is connected (start_broker_set waited for it), yet nothing crosses.
            assert alice.collect(QUIET) == []
            assert fleet_manager.collect(0.2) == []
        finally:
            fleet_manager.close()
            alice.close()


def _assert_kiosk_certificate_has_no_responder_rights(brokers: BrokerSet) -> None:
    """On r1's responder broker a kiosk's certificate (same fleet CA, so it connects) can neither
    read incidents nor write acks, while alice, a named responder, can do both."""
    fleet_manager = connect_test_client(
        brokers.fleet, brokers.client_tls("fleet-manager-1"), "fleet-manager-1"
    )
    alice = connect_test_client(
        brokers.responders["r1"], brokers.client_tls("responder-r1-alice"), "responder-r1-alice"
    )
    kiosk = connect_test_client(brokers.responders["r1"], brokers.client_tls("kiosk-a"), "kiosk-a")
    try:
        fleet_manager.subscribe(topics.shared(ALL_ACKS))
        alice.subscribe(topics.responder_incidents_filter("r1"))
        # Mosquitto accepts any subscription; what matters is whether anything is delivered.
        kiosk.subscribe(topics.responder_incidents_filter("r1"))

        incident = topics.responder_incident("r1", "k")
        assert fleet_manager.publish(incident, b"where") in ACCEPTED
        alice.expect(incident, payload=b"where")  # positive control: a named responder reads

        assert kiosk.publish(topics.responder_ack("r1", "k"), b"resolve") == NOT_AUTHORIZED
        control = topics.responder_ack("r1", "control")
        assert alice.publish(control, b"ack") in ACCEPTED  # positive control: and writes acks
        # The kiosk's ack was refused before alice's was sent, so it would have come first.
        assert _topics(fleet_manager.receive_until(control)) == [control]
        assert kiosk.collect(QUIET) == []  # the incident alice got never reached the kiosk
    finally:
        for client in (fleet_manager, alice, kiosk):
            client.close()


def test_named_responders_keep_kiosk_certificates_out_of_the_responder_broker(
    tmp_path: Path,
) -> None:
    def named(region: str) -> str:
        return render_responder_acl(region, responders=[responder_identity(region, "alice")])

    with start_broker_set(tmp_path, regions=("r1",), responder_acl=named) as brokers:
        _assert_kiosk_certificate_has_no_responder_rights(brokers)


def test_default_responder_acl_keeps_kiosk_certificates_out(tmp_path: Path) -> None:
    """The ACL start_broker_set renders by default (named_responder_acl) is the production
    renderer with named responders: a kiosk's certificate gets no rights there."""
    with start_broker_set(tmp_path, regions=("r1",)) as brokers:
        _assert_kiosk_certificate_has_no_responder_rights(brokers)


# -- restart ------------------------------------------------------------------------------------


def test_fleet_broker_restart_bridge_rejoins_and_delivers_acks_queued_meanwhile(
    tmp_path: Path,
) -> None:
    with start_broker_set(tmp_path, regions=("r1",)) as brokers:
        fm_tls = brokers.client_tls("fleet-manager-1")
        alice = connect_test_client(
            brokers.responders["r1"], brokers.client_tls("responder-r1-alice"), "responder-r1-alice"
        )
        fleet_manager = connect_test_client(
            brokers.fleet, fm_tls, "fleet-manager-1", clean_start=False, session_expiry=300
        )
        try:
            alice.subscribe(topics.responder_incidents_filter("r1"))
            # A plain subscription: Mosquitto 2.0.11 does not persist shared ones (next test).
            fleet_manager.subscribe(ALL_ACKS)
            before = topics.responder_incident("r1", "before")
            assert fleet_manager.publish(before, b"1") in ACCEPTED
            alice.expect(before)
            fleet_manager.close()

            connections = brokers.bridge_connections("r1")
            brokers.fleet.process.stop()
            # 0, not 16: the bridge's persistent session (cleansession false) still subscribes
            # here, so the responder broker queues the ack for it.
            while_down = topics.responder_ack("r1", "while-down")
            assert alice.publish(while_down, b"queued") == SUCCESS

            brokers.fleet.process.start()
            brokers.wait_for_bridge("r1", connections=connections + 1)
            fleet_manager = connect_test_client(
                brokers.fleet, fm_tls, "fleet-manager-1", clean_start=False, session_expiry=300
            )
            # Bridge queue -> fleet broker -> the fleet manager's session restored from disk.
            fleet_manager.expect(while_down, payload=b"queued")

            after = topics.responder_incident("r1", "after")
            assert fleet_manager.publish(after, b"2") in ACCEPTED
            alice.expect(after, payload=b"2")
            live_ack = topics.responder_ack("r1", "after")
            assert alice.publish(live_ack, b"ack") in ACCEPTED
            fleet_manager.expect(live_ack, payload=b"ack")
        finally:
            fleet_manager.close()
            alice.close()


def test_mosquitto_forgets_shared_subscriptions_on_restart(tmp_path: Path) -> None:
    """Mosquitto 2.0.11 restores a persistent session and its plain subscriptions after a
    restart, but not its ``$share`` subscriptions, while still reporting the session as present.
    So the fleet manager must re-subscribe its shared filters on every CONNACK. If this test
    starts failing after a Mosquitto upgrade, the limitation is gone."""
    with start_broker_set(tmp_path, regions=()) as brokers:
        fm_tls = brokers.client_tls("fleet-manager-1")
        kiosk_tls = brokers.client_tls("kiosk-a")
        fleet_manager = connect_test_client(
            brokers.fleet, fm_tls, "fleet-manager-1", clean_start=False, session_expiry=300
        )
        fleet_manager.subscribe(topics.shared(ALL_ALERTS))
        fleet_manager.subscribe(f"{topics.ROOT}/dev/+/event")
        fleet_manager.close()
        brokers.fleet.process.restart()

        fleet_manager = connect_test_client(
            brokers.fleet, fm_tls, "fleet-manager-1", clean_start=False, session_expiry=300
        )
        kiosk = connect_test_client(brokers.fleet, kiosk_tls, "kiosk-a")
        try:
            assert kiosk.publish(topics.device_alert("kiosk-a"), b"lost") == 16
            event = topics.device_event("kiosk-a")
            assert kiosk.publish(event, b"kept") == SUCCESS
            assert _topics(fleet_manager.receive_until(event)) == [event]
            # Re-subscribing is the remedy.
            fleet_manager.subscribe(topics.shared(ALL_ALERTS))
            assert kiosk.publish(topics.device_alert("kiosk-a"), b"again") == SUCCESS
            fleet_manager.expect(topics.device_alert("kiosk-a"), payload=b"again")
        finally:
            kiosk.close()
            fleet_manager.close()


# -- limits -------------------------------------------------------------------------------------


def test_payload_limit_is_256_kib(brokers: BrokerSet, clients: dict[str, TestClient]) -> None:
    """A 256 KiB payload passes; a larger packet gets its sender disconnected. paho keeps an
    unacknowledged QoS 1 message and resends it on reconnect, so an oversize message would
    disconnect its sender again and again: publishers must refuse it before sending."""
    fleet_manager = clients["fleet-manager-1"]
    fleet_manager.subscribe(topics.device_event("kiosk-a"))
    event = topics.device_event("kiosk-a")
    assert clients["kiosk-a"].publish(event, b"x" * 262_144) in ACCEPTED
    assert len(fleet_manager.expect(event).payload) == 262_144

    sender = connect_test_client(
        brokers.fleet, brokers.client_tls("kiosk-c"), "kiosk-c", reconnect=False
    )
    try:
        assert sender.paho is not None
        sender.paho.publish(topics.device_event("kiosk-c"), b"x" * 270_000, qos=1)
        deadline = time.monotonic() + 5.0
        while not sender.disconnects and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sender.disconnects != []
        assert "Client kiosk-c disconnected due to oversize packet" in (
            brokers.fleet.process.log_text()
        )
    finally:
        sender.close()


# -- the runner ---------------------------------------------------------------------------------


def test_write_broker_files_layout_and_acl_mode(tmp_path: Path) -> None:
    paths = broker_paths(tmp_path / "b")
    conf_path = write_broker_files(paths.directory, f"acl_file {paths.acl_file}\n", "user x\n")
    assert conf_path == paths.conf_file
    assert paths.data_dir.is_dir()
    assert paths.acl_file.read_text() == "user x\n"
    assert stat.S_IMODE(paths.acl_file.stat().st_mode) == 0o600
    with pytest.raises(ValueError, match="does not use the ACL file"):
        write_broker_files(paths.directory, "acl_file /elsewhere/acl\n", "")


def test_runner_reports_a_broken_config_with_the_brokers_own_words(tmp_path: Path) -> None:
    conf = tmp_path / "mosquitto.conf"
    conf.write_text("listener 1 127.0.0.1\nno_such_option true\n")
    broker = MosquittoProcess(conf, free_port(), "broken")
    with pytest.raises(RuntimeError, match=r"(?s)exited with status.*no_such_option"):
        broker.start()
    assert not broker.is_running


def test_runner_refuses_a_port_that_is_taken(tmp_path: Path) -> None:
    conf = tmp_path / "mosquitto.conf"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
        broker = MosquittoProcess(conf, port, "clash")
        with pytest.raises(RuntimeError, match="already in use"):
            broker.start()
        assert broker.pid is None


def test_runner_kill_and_restart(tmp_path: Path) -> None:
    conf = tmp_path / "mosquitto.conf"
    port = free_port()
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    with MosquittoProcess(conf, port, "plain") as broker:
        first = broker.pid
        assert broker.is_running
        broker.kill()
        assert not broker.is_running
        broker.restart()
        assert broker.is_running
        assert broker.pid != first
    assert not broker.is_running
