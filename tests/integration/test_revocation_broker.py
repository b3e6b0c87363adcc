"""Revoking a kiosk against a real Mosquitto 2.0.11 with a root → issuing CA hierarchy.

The broker runs with ``capath`` + ``crlfile`` (CRL checks on, new CRLs read at each handshake)
and a pid file. Every refusal is paired with another kiosk that still connects and publishes,
so a test cannot pass merely because nothing works. Waits poll with generous deadlines.
"""

from __future__ import annotations

import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509

from fleet_manager.brokers.mosquitto_config import render_fleet_acl, render_fleet_broker_conf
from fleet_manager.brokers.revocation import (
    BrokerHandle,
    cut_off,
    ensure_crl,
    kick_client,
    publish_crl,
    reload_broker,
    update_acl_file,
)
from fleet_manager.brokers.runner import (
    MosquittoProcess,
    broker_paths,
    broker_user_setting,
    free_port,
    write_broker_files,
)
from protocol import topics
from protocol.identities import fleet_manager_identity
from provisioning.ca import (
    CertificateAuthority,
    create_intermediate_ca,
    create_root_ca,
    issue_certificate,
    write_tls_files,
)
from provisioning.tls import TlsFiles
from tests.integration.brokers_fixture import (
    Broker,
    MqttConnectError,
    TestClient,
    connect_test_client,
)

HOST = "127.0.0.1"
FLEET_MANAGER = fleet_manager_identity("1")
NOT_AUTHORIZED = 135
ACCEPTED = (0, 16)
DEADLINE = 15.0


def _status(device_id: str) -> str:
    return f"{topics.ROOT}/dev/{device_id}/status"


@dataclass
class RevocableBroker:
    directory: Path
    issuing: CertificateAuthority
    broker: Broker
    handle: BrokerHandle
    _tls: dict[str, TlsFiles] = field(default_factory=dict)
    _clients: list[TestClient] = field(default_factory=list)

    def client_tls(self, identity: str) -> TlsFiles:
        if identity not in self._tls:
            issued = issue_certificate(self.issuing, identity, usage="client")
            self._tls[identity] = write_tls_files(
                self.directory / "clients" / identity, self.issuing.trust_anchor_pem(), issued
            )
        return self._tls[identity]

    def serial(self, identity: str) -> int:
        return x509.load_pem_x509_certificate(
            self.client_tls(identity).certfile.read_bytes()
        ).serial_number

    def connect(self, identity: str, *, reconnect: bool = False) -> TestClient:
        client = connect_test_client(
            self.broker, self.client_tls(identity), identity, reconnect=reconnect
        )
        self._clients.append(client)
        return client

    def connections_as(self, identity: str) -> int:
        pattern = re.compile(rf"New client connected from .* as {re.escape(identity)} \(")
        return len(pattern.findall(self.broker.process.log_text()))

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self.broker.process.stop()


def _start(directory: Path) -> RevocableBroker:
    directory = directory.resolve()
    issuing = create_intermediate_ca(create_root_ca(common_name="Beacon Test Root CA"))
    paths = broker_paths(directory / "fleet-broker")
    crl_dir = paths.directory / "crl"
    pid_file = paths.directory / "mosquitto.pid"
    server = issue_certificate(
        issuing, "fleet-broker", usage="server", dns_names=["localhost"], ip_addresses=[HOST]
    )
    tls = write_tls_files(paths.directory / "tls", issuing.trust_anchor_pem(), server)
    ensure_crl(crl_dir, issuing)  # crlfile must exist before the broker starts
    port = free_port(HOST)
    conf = render_fleet_broker_conf(
        port=port,
        tls=tls,
        data_dir=paths.data_dir,
        acl_file=paths.acl_file,
        log_file=paths.log_file,
        bridges=[],
        bind_host=HOST,
        user=broker_user_setting(),
        crl_dir=crl_dir,
        pid_file=pid_file,
    )
    acl = render_fleet_acl(fleet_manager_identities=[FLEET_MANAGER])
    process = MosquittoProcess(write_broker_files(paths.directory, conf, acl), port, "fleet")
    process.start()
    handle = BrokerHandle(
        acl_file=paths.acl_file,
        crl_dir=crl_dir,
        pid_file=pid_file,
        host=HOST,
        port=port,
        cafile=tls.cafile,
    )
    return RevocableBroker(
        directory, issuing, Broker("fleet", HOST, port, process, paths.directory), handle
    )


@pytest.fixture
def revocable(tmp_path: Path) -> Iterator[RevocableBroker]:
    started = _start(tmp_path)
    try:
        yield started
    finally:
        started.close()


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE}s: {what}")
        time.sleep(0.05)


def _tls_handshake_then_read(port: int, tls: TlsFiles) -> None:
    """Connect with TLS as ``tls`` and read once; raises ssl.SSLError if the broker refuses.

    With TLS 1.3 the server checks the client certificate after the client's handshake ends,
    so a refusal arrives as an alert on the first read; an accepted client times out waiting.
    """
    context = ssl.create_default_context(cafile=str(tls.cafile))
    context.load_cert_chain(str(tls.certfile), str(tls.keyfile))
    with (
        socket.create_connection((HOST, port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=HOST) as connection,
    ):
        connection.settimeout(1.0)
        connection.recv(1)


def _assert_refused_at_tls(revocable: RevocableBroker, identity: str) -> None:
    with pytest.raises(ssl.SSLError, match="CERTIFICATE_REVOKED"):
        _tls_handshake_then_read(revocable.broker.port, revocable.client_tls(identity))
    with pytest.raises(MqttConnectError):
        revocable.connect(identity)


def _assert_works(revocable: RevocableBroker, identity: str, watcher: TestClient) -> None:
    client = revocable.connect(identity)
    payload = f"hello from {identity}".encode()
    assert client.publish(_status(identity), payload) in ACCEPTED
    watcher.expect(_status(identity), payload=payload)


def test_cut_off_throws_the_kiosk_off_and_keeps_it_out(revocable: RevocableBroker) -> None:
    watcher = revocable.connect(FLEET_MANAGER)
    watcher.subscribe(f"{topics.ROOT}/dev/+/status")
    # The victim reconnects on its own, as a kiosk would.
    victim = revocable.connect("kiosk-a1", reconnect=True)
    bystander = revocable.connect("kiosk-b1")
    assert victim.publish(_status("kiosk-a1"), b"before") in ACCEPTED
    watcher.expect(_status("kiosk-a1"), payload=b"before")

    report = cut_off(
        "kiosk-a1",
        [revocable.serial("kiosk-a1")],
        ca=revocable.issuing,
        broker=revocable.handle,
    )

    assert report.complete, report.problems
    assert report.kicked and report.acl_changed
    assert report.reloaded_pid == revocable.broker.process.pid
    assert report.crl is not None and report.crl.crl_number == 2
    _wait_for(lambda: bool(victim.disconnects), "the revoked kiosk is disconnected")
    _assert_refused_at_tls(revocable, "kiosk-a1")
    # Its own cert never got back in: the only logins as kiosk-a1 are its first and the kick.
    assert revocable.connections_as("kiosk-a1") == 2
    # Everyone else is untouched: the connected bystander and a kiosk connecting afresh.
    assert bystander.publish(_status("kiosk-b1"), b"still here") in ACCEPTED
    watcher.expect(_status("kiosk-b1"), payload=b"still here")
    assert not bystander.disconnects
    _assert_works(revocable, "kiosk-c1", watcher)


def test_acl_deny_and_sighup_silence_a_kiosk_that_stays_connected(
    revocable: RevocableBroker,
) -> None:
    # Belt and braces: the step that still holds if the kick could not reach the broker.
    victim = revocable.connect("kiosk-a1")
    bystander = revocable.connect("kiosk-b1")
    assert victim.publish(_status("kiosk-a1"), b"before") in ACCEPTED

    assert update_acl_file(revocable.handle.acl_file, "kiosk-a1")
    reload_broker(revocable.handle.pid_file)

    # SIGHUP is handled by the broker's loop, shortly after it arrives.
    _wait_for(
        lambda: victim.publish(_status("kiosk-a1"), b"after") == NOT_AUTHORIZED,
        "the broker refuses the denied kiosk's publish",
    )
    assert not victim.disconnects
    assert bystander.publish(_status("kiosk-b1"), b"fine") in ACCEPTED


def test_kick_alone_throws_a_kiosk_off_but_does_not_keep_it_out(
    revocable: RevocableBroker,
) -> None:
    # Why the CRL comes first: a takeover closes the connection, nothing more.
    victim = revocable.connect("kiosk-a1", reconnect=True)
    assert kick_client(
        HOST,
        revocable.broker.port,
        revocable.handle.cafile,
        revocable.issuing,
        "kiosk-a1",
    )
    _wait_for(lambda: bool(victim.disconnects), "the kicked kiosk is disconnected")
    _wait_for(
        lambda: revocable.connections_as("kiosk-a1") >= 3,
        "the kicked (not revoked) kiosk logs in again by itself",
    )


def test_revocation_survives_a_restart_and_later_revocations_still_apply(
    revocable: RevocableBroker,
) -> None:
    for device_id in ("kiosk-a1", "kiosk-b1", "kiosk-c1"):
        revocable.client_tls(device_id)
    first = cut_off(
        "kiosk-a1", [revocable.serial("kiosk-a1")], ca=revocable.issuing, broker=revocable.handle
    )
    assert first.complete, first.problems

    revocable.broker.process.restart()

    watcher = revocable.connect(FLEET_MANAGER)
    watcher.subscribe(f"{topics.ROOT}/dev/+/status")
    _assert_refused_at_tls(revocable, "kiosk-a1")
    _assert_works(revocable, "kiosk-b1", watcher)
    # A refresh (nothing new, later nextUpdate) changes nothing for anyone.
    publish_crl(revocable.handle.crl_dir, revocable.issuing)
    _assert_refused_at_tls(revocable, "kiosk-a1")
    _assert_works(revocable, "kiosk-c1", watcher)
    # After the restart the broker still picks up the next .rN file without another restart.
    second = cut_off(
        "kiosk-b1", [revocable.serial("kiosk-b1")], ca=revocable.issuing, broker=revocable.handle
    )
    assert second.complete, second.problems
    assert second.reloaded_pid == revocable.broker.process.pid
    _assert_refused_at_tls(revocable, "kiosk-b1")
    _assert_refused_at_tls(revocable, "kiosk-a1")
    _assert_works(revocable, "kiosk-c1", watcher)
