"""The enrolment API in process (the real FastAPI app, service, SQLite store and issuing CA):
every answer it can give, and every bad input refused with an audit entry and nothing issued."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from beacon.system import build_system
from device.agent.enrolment import BundleRejected, check_bundle
from fleet_manager.api.app import create_app
from fleet_manager.config import load_config
from fleet_manager.enrolment.service import EnrolmentService, create_token, record_decision
from fleet_manager.store import audit_log, enrolment_store, registry
from fleet_manager.store.database import migrate, open_engine
from fleet_manager.store.schema import certificates
from protocol.enrolment import ENROL_PATH, IdentityBundle, RenewRequest
from tests.support.live import TEST_PLAN
from tests.support.postgres import temporary_database

LOCATION = "a-waiting"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        return self.now


@dataclass
class Api:
    client: TestClient
    service: EnrolmentService
    engine: sa.Engine
    clock: Clock

    def token(self, location: str = LOCATION, ttl: float = 3600) -> str:
        return create_token(self.engine, location, ttl, "test", self.clock()).token

    def issued_count(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(certificates)).scalar_one()
            )

    def refusals(self) -> list[audit_log.AuditEntry]:
        with self.engine.connect() as conn:
            return [e for e in audit_log.entries(conn) if e.outcome == "refused"]


@contextmanager
def _database(kind: str, sqlite_url: str) -> Iterator[sa.Engine]:
    """The system's own SQLite database, or a fresh PostgreSQL one with the same registry."""
    if kind == "sqlite":
        engine = open_engine(sqlite_url)
        yield engine
        engine.dispose()
        return
    with temporary_database("beacon_enrol") as url:
        engine = open_engine(url)
        migrate(engine)
        now = datetime.now(UTC).timestamp()
        with engine.begin() as conn:
            for f in TEST_PLAN.facilities:
                registry.add_facility(conn, f.facility_id, f.name, f.region, now)
            for k in TEST_PLAN.kiosks:
                registry.add_location(
                    conn, k.location_id, k.facility_id, k.location_name, k.location_kind, now
                )
        yield engine
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    layout = build_system(tmp_path / "system", TEST_PLAN)
    config = load_config(layout.fleet_configs[0])
    with _database(request.param, config.database_url) as engine:
        clock = Clock()
        service = EnrolmentService.from_config(config, engine)
        service.clock = clock
        with TestClient(create_app(service)) as client:
            yield Api(client, service, engine, clock)


def make_csr(key: object | None = None, subject: x509.Name | None = None) -> tuple[object, str]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject or x509.Name([]))
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return key, csr.public_bytes(serialization.Encoding.PEM).decode()


def test_a_valid_token_and_csr_get_a_certificate_chained_to_the_root(api: Api) -> None:
    key, csr = make_csr()
    response = api.client.post(ENROL_PATH, json={"token": api.token(), "csr": csr})
    assert response.status_code == 201, response.text
    bundle = IdentityBundle.model_validate(response.json())
    assert bundle.device_id.startswith("kiosk-")
    assert (bundle.location, bundle.facility, bundle.region) == (LOCATION, "clinic-a", "east")
    assert bundle.location_name == "A waiting room"
    assert bundle.allowed_origins == ("help.beacon.example",)
    assert len(base64.b64decode(bundle.command_key)) == 32
    check_bundle(bundle, key)  # type: ignore[arg-type]  # ours, and chains to the anchor
    leaf = x509.load_pem_x509_certificates(bundle.certificate.encode())[0]
    life = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert 89 <= life.days <= 90
    with api.engine.connect() as conn:
        placement = registry.placement(conn, bundle.device_id)
        assert placement is not None and placement.location_id == LOCATION
        assert enrolment_store.lifecycle(conn, bundle.device_id) == "active"
        certs = enrolment_store.device_certificates(conn, bundle.device_id)
        assert [c.serial for c in certs] == [format(leaf.serial_number, "x")]
        actions = [e.action for e in audit_log.entries(conn)]
        assert actions[-2:] == ["enrolment.requested", "certificate.issued"]
        assert audit_log.verify_chain(conn) is None


def test_a_bundle_for_another_key_is_not_saved(api: Api) -> None:
    _, csr = make_csr()
    response = api.client.post(ENROL_PATH, json={"token": api.token(), "csr": csr})
    bundle = IdentityBundle.model_validate(response.json())
    with pytest.raises(BundleRejected, match="not for this kiosk's key"):
        check_bundle(bundle, ec.generate_private_key(ec.SECP256R1()))


def test_a_token_works_once_but_the_same_request_may_be_repeated(api: Api) -> None:
    token = api.token()
    _, csr = make_csr()
    first = api.client.post(ENROL_PATH, json={"token": token, "csr": csr})
    assert first.status_code == 201
    # The kiosk lost our answer and asks again, same key and CSR: same device.
    again = api.client.post(ENROL_PATH, json={"token": token, "csr": csr})
    assert again.status_code == 201
    assert again.json()["device_id"] == first.json()["device_id"]
    # Anyone else with the token is refused.
    _, other_csr = make_csr()
    stolen = api.client.post(ENROL_PATH, json={"token": token, "csr": other_csr})
    assert stolen.status_code == 403
    assert stolen.json()["error"] == "token_used"


@pytest.mark.parametrize(
    ("token", "error"),
    [
        ("AAAA-BBBB-CCCC-DDDD-EEEE", "token_unknown"),
        ("not a token at all", "token_unknown"),
        ("x" * 64, "token_unknown"),
    ],
)
def test_wrong_tokens_are_refused_and_audited(api: Api, token: str, error: str) -> None:
    _, csr = make_csr()
    response = api.client.post(ENROL_PATH, json={"token": token, "csr": csr})
    assert response.status_code == 403
    assert response.json()["error"] == error
    assert api.issued_count() == 0
    assert [e.detail["reason"] for e in api.refusals()] == [error]
    assert api.service.counters.get(f"enrolment_refused.{error}") == 1


def test_an_expired_token_is_refused(api: Api) -> None:
    token = api.token(ttl=60)
    api.clock.now += 61
    _, csr = make_csr()
    response = api.client.post(ENROL_PATH, json={"token": token, "csr": csr})
    assert (response.status_code, response.json()["error"]) == (403, "token_expired")
    assert api.issued_count() == 0


def _tampered_csr() -> str:
    _, csr = make_csr()
    der = bytearray(x509.load_pem_x509_csr(csr.encode()).public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # inside the signature
    return x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM).decode()


def _csr_with(key: object) -> str:
    return make_csr(key)[1]


@pytest.mark.parametrize(
    ("csr", "error"),
    [
        (
            "-----BEGIN CERTIFICATE REQUEST-----\nnonsense\n-----END CERTIFICATE REQUEST-----\n",
            "malformed_csr",
        ),
        ("hello", "malformed_csr"),
        (_tampered_csr(), "malformed_csr"),
        (_csr_with(rsa.generate_private_key(65537, 1024)), "weak_key"),
        (_csr_with(ec.generate_private_key(ec.SECP256K1())), "weak_key"),
        (
            make_csr(subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kiosk-a1")]))[1],
            "subject_not_empty",
        ),
    ],
    ids=["bad-pem", "not-pem", "bad-signature", "rsa-1024", "secp256k1", "chooses-own-id"],
)
def test_bad_csrs_are_refused_and_the_token_is_not_spent(api: Api, csr: str, error: str) -> None:
    token = api.token()
    response = api.client.post(ENROL_PATH, json={"token": token, "csr": csr})
    assert (response.status_code, response.json()["error"]) == (422, error)
    assert api.issued_count() == 0
    assert api.refusals()[-1].detail == {"reason": error, "location": LOCATION}
    # Fixed, the same kiosk can still use its token.
    _, good = make_csr()
    assert api.client.post(ENROL_PATH, json={"token": token, "csr": good}).status_code == 201


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b'{"token": "AAAA-BBBB-CCCC-DDDD-EEEE"}', 400),
        (b'{"token": 5, "csr": "x"}', 400),
        (b'{"token": "t", "csr": "x", "extra": 1}', 400),
        (b"[]", 400),
        (b'{"token": "t", "csr": "' + b"x" * 70_000 + b'"}', 413),
    ],
    ids=["not-json", "missing-csr", "token-not-string", "extra-field", "array", "too-large"],
)
def test_malformed_requests_get_a_clear_error(api: Api, body: bytes, status: int) -> None:
    response = api.client.post(
        ENROL_PATH, content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status
    assert response.json()["error"] == "bad_request"
    assert response.json()["message"]
    assert api.service.counters.get("api_bad_requests") == 1
    assert api.issued_count() == 0


def _require_approval(api: Api) -> None:
    with api.engine.begin() as conn:
        assert enrolment_store.set_require_approval(conn, "clinic-a", True)


def test_approval_holds_the_kiosk_until_staff_approve(api: Api) -> None:
    _require_approval(api)
    key, csr = make_csr()
    response = api.client.post(ENROL_PATH, json={"token": api.token(), "csr": csr})
    assert response.status_code == 202
    enrolment_id = response.json()["enrolment_id"]
    assert api.client.get(f"{ENROL_PATH}/{enrolment_id}").status_code == 202
    assert api.issued_count() == 0
    with api.engine.begin() as conn:
        pending = enrolment_store.list_enrolments(conn, state="pending")
        assert [p.enrolment_id for p in pending] == [enrolment_id]
        record_decision(conn, pending[0].device_id, True, "cli:dana", api.clock())
    polled = api.client.get(f"{ENROL_PATH}/{enrolment_id}")
    assert polled.status_code == 200
    bundle = IdentityBundle.model_validate(polled.json())
    assert bundle.device_id == pending[0].device_id
    check_bundle(bundle, key)  # type: ignore[arg-type]
    with api.engine.connect() as conn:
        actions = [e.action for e in audit_log.entries(conn, subject=bundle.device_id)]
    assert actions == ["enrolment.requested", "enrolment.approved", "certificate.issued"]


def test_a_rejected_kiosk_gets_nothing(api: Api) -> None:
    _require_approval(api)
    _, csr = make_csr()
    response = api.client.post(ENROL_PATH, json={"token": api.token(), "csr": csr})
    enrolment_id = response.json()["enrolment_id"]
    with api.engine.begin() as conn:
        record_decision(conn, enrolment_id, False, "cli:dana", api.clock())
        with pytest.raises(enrolment_store.EnrolmentError, match="rejected, not pending"):
            record_decision(conn, enrolment_id, True, "cli:dana", api.clock())
    polled = api.client.get(f"{ENROL_PATH}/{enrolment_id}")
    assert (polled.status_code, polled.json()["error"]) == (403, "rejected")
    assert api.client.get(f"{ENROL_PATH}/no-such-id").status_code == 404
    assert api.issued_count() == 0


def test_an_issued_enrolment_cannot_be_fetched_again_much_later(api: Api) -> None:
    _, csr = make_csr()
    response = api.client.post(ENROL_PATH, json={"token": api.token(), "csr": csr})
    device_id = response.json()["device_id"]
    with api.engine.connect() as conn:
        record = enrolment_store.find_enrolment(conn, device_id)
    assert record is not None
    api.clock.now += 2 * 3600
    late = api.client.get(f"{ENROL_PATH}/{record.enrolment_id}")
    assert (late.status_code, late.json()["error"]) == (410, "refetch_window_passed")


def test_renewal_for_an_active_kiosk_and_refusal_once_revoked(api: Api) -> None:
    _, csr = make_csr()
    device_id = api.client.post(ENROL_PATH, json={"token": api.token(), "csr": csr}).json()[
        "device_id"
    ]
    _, new_csr = make_csr()
    renewed = api.service.renew(device_id, RenewRequest(request_id="r1", csr=new_csr))
    assert renewed.certificate is not None and renewed.error is None
    leaf = x509.load_pem_x509_certificates(renewed.certificate.encode())[0]
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == device_id
    with api.engine.begin() as conn:
        assert len(enrolment_store.device_certificates(conn, device_id)) == 2
        enrolment_store.set_lifecycle(conn, device_id, "revoked")
    refused = api.service.renew(device_id, RenewRequest(request_id="r2", csr=new_csr))
    assert (refused.certificate, refused.error) == (None, "device_revoked")
    unknown = api.service.renew("kiosk-nobody", RenewRequest(request_id="r3", csr=new_csr))
    assert unknown.error == "device_unknown"
    assert api.issued_count() == 2


def test_an_expired_kiosk_enrols_again_but_a_current_one_does_not(tmp_path: Path) -> None:
    from datetime import timedelta

    from device.agent.enrolment import usable_identity
    from device.agent.identity import BrokerAddress, DeviceProfile, save_profile
    from provisioning.ca import create_fleet_ca, issue_certificate, write_tls_files

    ca = create_fleet_ca()
    state = tmp_path / "kiosk"
    save_profile(
        state,
        DeviceProfile(
            device_id="kiosk-old1",
            region="east",
            facility="clinic-a",
            location=LOCATION,
            broker=BrokerAddress(host="127.0.0.1", port=8883),
            command_key=base64.b64encode(bytes(32)).decode(),
        ),
    )
    long_ago = datetime.now(UTC) - timedelta(days=120)
    expired = issue_certificate(ca, "kiosk-old1", usage="client", valid_days=90, now=long_ago)
    write_tls_files(state / "tls", ca.cert_pem(), expired)
    assert usable_identity(state) is None
    current = issue_certificate(ca, "kiosk-old1", usage="client", valid_days=90)
    write_tls_files(state / "tls", ca.cert_pem(), current)
    found = usable_identity(state)
    assert found is not None and found.device_id == "kiosk-old1"
    assert usable_identity(tmp_path / "nothing-here") is None
