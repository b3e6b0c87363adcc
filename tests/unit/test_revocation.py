"""The pure parts of broker revocation (ACL block, OpenSSL's name hash, CRL numbering) and the
file and signal handling around them. The broker itself is exercised in
tests/integration/test_revocation_broker.py."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from fleet_manager.brokers.mosquitto_config import CURRENT_CRL_FILE, render_fleet_broker_conf
from fleet_manager.brokers.revocation import (
    ACL_BEGIN,
    ACL_END,
    ACL_NOTE,
    BrokerReloadError,
    acl_with_revoked,
    crl_sequences,
    ensure_crl,
    latest_crl,
    next_crl_index,
    openssl_name_hash,
    publish_crl,
    reload_broker,
    revoked_in_acl,
    update_acl_file,
    write_crl,
)
from provisioning.ca import (
    CertificateAuthority,
    build_crl,
    create_fleet_ca,
    create_intermediate_ca,
    create_root_ca,
)
from provisioning.tls import TlsFiles

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
BASE_ACL = (
    "# fleet ACL\npattern write beacon/v1/dev/%u/status\n\nuser fleet-manager-1\ntopic read #\n"
)


def _block(*ids: str) -> str:
    lines = [ACL_BEGIN, ACL_NOTE]
    for device_id in ids:
        lines += [f"user {device_id}", "topic deny #"]
    return "\n".join([*lines, ACL_END]) + "\n"


# -- acl_with_revoked ------------------------------------------------------------------------

ACL_CASES = [
    ("empty file, one id", "", ["kiosk-a"], _block("kiosk-a")),
    ("no ids, no block", BASE_ACL, [], BASE_ACL),
    ("appended after a blank line", BASE_ACL, ["kiosk-a"], BASE_ACL + "\n" + _block("kiosk-a")),
    (
        "sorted and de-duplicated",
        BASE_ACL,
        ["kiosk-b", "kiosk-a", "kiosk-b"],
        BASE_ACL + "\n" + _block("kiosk-a", "kiosk-b"),
    ),
    (
        "an existing block is replaced",
        BASE_ACL + "\n" + _block("kiosk-a"),
        ["kiosk-c"],
        BASE_ACL + "\n" + _block("kiosk-c"),
    ),
    (
        "the last id removed removes the block",
        BASE_ACL + "\n" + _block("kiosk-a"),
        [],
        BASE_ACL,
    ),
    (
        # A block in the middle would capture the `topic` lines after it: it moves to the end.
        "a block in the middle moves to the end",
        "pattern read x/%u\n" + _block("kiosk-a") + "user svc\ntopic read y\n",
        ["kiosk-a"],
        "pattern read x/%u\nuser svc\ntopic read y\n\n" + _block("kiosk-a"),
    ),
    ("a missing final newline is added", "pattern read x/%u", [], "pattern read x/%u\n"),
]


@pytest.mark.parametrize(
    ("acl", "ids", "expected"), [case[1:] for case in ACL_CASES], ids=[c[0] for c in ACL_CASES]
)
def test_acl_with_revoked(acl: str, ids: list[str], expected: str) -> None:
    result = acl_with_revoked(acl, ids)
    assert result == expected
    assert acl_with_revoked(result, ids) == result  # idempotent
    assert revoked_in_acl(result) == set(ids)


@pytest.mark.parametrize(
    "bad_id", ["fleet-manager-1", "bridge-r1", "kiosk-A", "kiosk-a\ntopic read #", "kiosk-#", ""]
)
def test_acl_with_revoked_refuses_anything_but_device_ids(bad_id: str) -> None:
    with pytest.raises(ValueError, match="device id"):
        acl_with_revoked(BASE_ACL, ["kiosk-a", bad_id])


def test_acl_with_revoked_refuses_a_bare_string() -> None:
    with pytest.raises(TypeError):
        acl_with_revoked(BASE_ACL, "kiosk-a")


@pytest.mark.parametrize(
    "damaged",
    [
        f"{ACL_BEGIN}\nuser kiosk-a\n",
        f"{ACL_END}\n{ACL_BEGIN}\n",
        f"{ACL_BEGIN}\n{ACL_END}\n{ACL_BEGIN}\n{ACL_END}\n",
    ],
)
def test_a_damaged_block_is_refused_not_guessed_at(damaged: str) -> None:
    with pytest.raises(ValueError, match="damaged"):
        acl_with_revoked(BASE_ACL + damaged, ["kiosk-b"])


def test_update_acl_file_keeps_mode_and_reports_changes(tmp_path: Path) -> None:
    acl_file = tmp_path / "acl"
    acl_file.write_text(BASE_ACL, encoding="utf-8")
    acl_file.chmod(0o640)
    assert update_acl_file(acl_file, "kiosk-a") is True
    assert update_acl_file(acl_file, "kiosk-b") is True
    assert update_acl_file(acl_file, "kiosk-a") is False
    assert revoked_in_acl(acl_file.read_text(encoding="utf-8")) == {"kiosk-a", "kiosk-b"}
    assert stat.S_IMODE(acl_file.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acl"]


# -- OpenSSL's name hash ---------------------------------------------------------------------

NAMES = {
    "plain": x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Beacon Fleet Issuing CA")]),
    "case, spaces, several RDNs": x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "  Some   ORG\tLtd "),
            x509.NameAttribute(NameOID.COMMON_NAME, "Ünïcode CA Ω"),
        ]
    ),
    "multi-valued RDN, IA5 e-mail": x509.Name(
        [
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, "zz"),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "A"),
                ]
            ),
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(NameOID.EMAIL_ADDRESS, "X@Example.ORG")]
            ),
        ]
    ),
}


@pytest.mark.parametrize("name", NAMES.values(), ids=NAMES.keys())
def test_name_hash_matches_openssl(name: x509.Name) -> None:
    signer = create_fleet_ca(now=NOW)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(name)
        .last_update(NOW)
        .next_update(NOW + timedelta(days=1))
        .sign(signer.private_key, hashes.SHA256())
    )
    openssl = subprocess.run(
        ["openssl", "crl", "-hash", "-noout"],
        input=crl.public_bytes(serialization.Encoding.PEM),
        capture_output=True,
        check=True,
    )
    assert openssl_name_hash(name) == openssl.stdout.decode().strip()


# -- CRL files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([], {}),
        (
            ["0a1b2c3d.r1", "0a1b2c3d.r0", "ffffffff.r0", "current.crl.pem", "0a1b2c3d.0", "x.r0"],
            {"0a1b2c3d": [0, 1], "ffffffff": [0]},
        ),
        ([".0a1b2c3d.r0.abc.tmp", "0A1B2C3D.r0"], {}),
    ],
)
def test_crl_sequences(names: list[str], expected: dict[str, list[int]]) -> None:
    assert crl_sequences(names) == expected


def test_next_crl_index_refuses_gaps() -> None:
    assert next_crl_index([]) == 0
    assert next_crl_index([0, 1, 2]) == 3
    with pytest.raises(ValueError, match=r"gap at \.r1"):
        next_crl_index([0, 2])
    with pytest.raises(ValueError, match=r"gap at \.r0"):
        next_crl_index([1])


@pytest.fixture(scope="module")
def issuing() -> CertificateAuthority:
    return create_intermediate_ca(create_root_ca(now=NOW), now=NOW)


def _crl(ca: CertificateAuthority, number: int, at: datetime, *serials: int) -> bytes:
    return build_crl(ca, [(s, at) for s in serials], crl_number=number, now=at)


def test_write_crl_numbers_files_and_keeps_current_newest(
    tmp_path: Path, issuing: CertificateAuthority
) -> None:
    crl_dir = tmp_path / "crl"
    issuer_hash = openssl_name_hash(issuing.certificate.subject)
    first = write_crl(crl_dir, _crl(issuing, 1, NOW))
    second = write_crl(crl_dir, _crl(issuing, 2, NOW + timedelta(seconds=1), 5))
    assert (first.name, second.name) == (f"{issuer_hash}.r0", f"{issuer_hash}.r1")
    assert (crl_dir / CURRENT_CRL_FILE).read_bytes() == second.read_bytes()
    assert stat.S_IMODE(second.stat().st_mode) == 0o644
    # A second issuer (the next intermediate, during a rotation) gets its own sequence, and
    # current.crl.pem holds the newest CRL of each.
    other = create_intermediate_ca(create_root_ca(now=NOW), "Beacon Fleet Issuing CA 2", now=NOW)
    third = write_crl(crl_dir, _crl(other, 1, NOW))
    assert third.name == f"{openssl_name_hash(other.certificate.subject)}.r0"
    bundle = (crl_dir / CURRENT_CRL_FILE).read_bytes()
    current = [
        x509.load_pem_x509_crl(b"-----BEGIN X509 CRL-----" + part)
        for part in bundle.split(b"-----BEGIN X509 CRL-----")[1:]
    ]
    assert {crl.issuer for crl in current} == {
        issuing.certificate.subject,
        other.certificate.subject,
    }
    assert not [p for p in crl_dir.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    ("number", "offset", "next_update", "message"),
    [
        (2, timedelta(0), timedelta(days=7), "lastUpdate"),  # same second: ambiguous
        (2, timedelta(seconds=-5), timedelta(days=7), "lastUpdate"),
        (1, timedelta(seconds=1), timedelta(days=7), "number"),
        (2, timedelta(seconds=1), timedelta(days=1), "nextUpdate"),
    ],
)
def test_write_crl_refuses_a_crl_that_would_not_take_over(
    tmp_path: Path,
    issuing: CertificateAuthority,
    number: int,
    offset: timedelta,
    next_update: timedelta,
    message: str,
) -> None:
    write_crl(tmp_path, _crl(issuing, 1, NOW))
    later = build_crl(
        issuing, [(9, NOW)], crl_number=number, now=NOW + offset, next_update=next_update
    )
    with pytest.raises(ValueError, match=message):
        write_crl(tmp_path, later)
    assert len(crl_sequences(p.name for p in tmp_path.iterdir())) == 1


def test_publish_crl_accumulates_and_ensure_crl_is_idempotent(
    tmp_path: Path, issuing: CertificateAuthority
) -> None:
    crl_dir = tmp_path / "crl"
    assert ensure_crl(crl_dir, issuing) == crl_dir / CURRENT_CRL_FILE
    ensure_crl(crl_dir, issuing)
    assert list(crl_sequences(p.name for p in crl_dir.iterdir()).values()) == [[0]]
    t1, t2, t3 = (NOW + timedelta(days=1, seconds=s) for s in (1, 2, 3))
    publish_crl(crl_dir, issuing, {11: t1}, now=t1)
    published = publish_crl(crl_dir, issuing, {12: t2, 11: t2}, now=t2)
    refreshed = publish_crl(crl_dir, issuing, now=t3)
    assert (published.crl_number, refreshed.crl_number) == (3, 4)
    crl = latest_crl(crl_dir, issuing.certificate.subject)
    assert crl is not None
    # Serial 11 keeps its first revocation time; a refresh adds nothing and drops nothing.
    assert {(r.serial_number, r.revocation_date_utc) for r in crl} == {(11, t1), (12, t2)}
    assert crl.last_update_utc == t3
    assert crl.is_signature_valid(issuing.private_key.public_key())


def test_concurrent_publishers_never_drop_a_revocation(
    tmp_path: Path, issuing: CertificateAuthority
) -> None:
    crl_dir = tmp_path / "crl"
    ensure_crl(crl_dir, issuing)
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda serial: publish_crl(crl_dir, issuing, {serial: NOW}), (1, 2, 3)))
    crl = latest_crl(crl_dir, issuing.certificate.subject)
    assert crl is not None
    assert {r.serial_number for r in crl} == {1, 2, 3}
    assert crl_sequences(p.name for p in crl_dir.iterdir()) == {
        openssl_name_hash(issuing.certificate.subject): [0, 1, 2, 3]
    }


# -- reload_broker ---------------------------------------------------------------------------


def test_reload_broker_refuses_missing_and_garbage_pid_files(tmp_path: Path) -> None:
    with pytest.raises(BrokerReloadError, match="cannot read"):
        reload_broker(tmp_path / "absent.pid")
    garbage = tmp_path / "garbage.pid"
    for text in ("", "abc", "-5", "1"):
        garbage.write_text(text, encoding="ascii")
        with pytest.raises(BrokerReloadError, match="holds no pid"):
            reload_broker(garbage)


def test_reload_broker_refuses_a_stale_pid(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    pid_file = tmp_path / "broker.pid"
    pid_file.write_text(finished.stdout.strip() + "\n", encoding="ascii")
    with pytest.raises(BrokerReloadError, match="stale pid file"):
        reload_broker(pid_file)


def test_reload_broker_never_signals_a_process_that_is_not_mosquitto(tmp_path: Path) -> None:
    # This very test process: if the guard failed, SIGHUP would end the test run.
    pid_file = tmp_path / "broker.pid"
    pid_file.write_text(f"{os.getpid()}\n", encoding="ascii")
    with pytest.raises(BrokerReloadError, match="not mosquitto"):
        reload_broker(pid_file)


# -- config ----------------------------------------------------------------------------------


def _conf(tmp_path: Path, crl_dir: Path | None = None, pid_file: Path | None = None) -> str:
    return render_fleet_broker_conf(
        port=8883,
        tls=TlsFiles(tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"),
        data_dir=tmp_path / "data",
        acl_file=tmp_path / "acl",
        log_file=None,
        bridges=[],
        crl_dir=crl_dir,
        pid_file=pid_file,
    )


def test_fleet_broker_conf_revocation_lines_are_opt_in(tmp_path: Path) -> None:
    plain = _conf(tmp_path)
    assert "capath" not in plain and "crlfile" not in plain and "pid_file" not in plain
    conf = _conf(tmp_path, crl_dir=tmp_path / "crl", pid_file=tmp_path / "m.pid")
    assert f"capath {tmp_path / 'crl'}\n" in conf
    assert f"crlfile {tmp_path / 'crl' / CURRENT_CRL_FILE}\n" in conf
    assert f"pid_file {tmp_path / 'm.pid'}\n" in conf
    # The CRL lines belong to the listener, so they come after it.
    assert conf.index("listener ") < conf.index("capath ")
    with pytest.raises(ValueError, match="absolute"):
        _conf(tmp_path, crl_dir=Path("crl"))
