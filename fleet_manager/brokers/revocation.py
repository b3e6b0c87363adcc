"""Cutting a kiosk off the fleet broker at once and for good, without restarting Mosquitto.

Verified against Mosquitto 2.0.11 / OpenSSL 3.0 (docs/operations.md, "Revoking a kiosk"):

* **Live CRLs.** The listener has ``crlfile`` (which makes Mosquitto set
  ``X509_V_FLAG_CRL_CHECK``) and ``capath CRL_DIR``. At every TLS handshake OpenSSL asks the
  hash-directory lookup for the issuer's CRLs, and that lookup loads files named
  ``<issuer-hash>.r0``, ``.r1``, … it has not read yet, stopping at the first missing number.
  Among the CRLs it holds it uses the valid one with the latest ``lastUpdate``. So writing a
  newer CRL as the next ``.rN`` makes the very next handshake with a revoked certificate fail
  ("certificate revoked"), with no restart. ``current.crl.pem`` (the ``crlfile``) is kept equal
  to the newest CRL of each issuer for restarts.
* **Kick by session takeover.** The client id is the certificate CN, so connecting with a fresh,
  minutes-long certificate for the same CN makes Mosquitto close the kiosk's connection
  ("already connected, closing old connection") before it answers CONNACK. The clean start also
  drops the kiosk's queued session.
* **ACL deny + SIGHUP** stops a still-connected client's traffic at once (belt and braces, and
  what protects a kiosk whose kick failed).

Rules the CRL files must follow, because of how OpenSSL reads them: ``.rN`` numbers never have
gaps and files are never deleted while the broker runs; each CRL of an issuer has a strictly
later ``lastUpdate`` and no earlier ``nextUpdate`` than the one before (otherwise OpenSSL may keep
using the older one); and a CRL must be re-published before its ``nextUpdate``, because once the
newest valid CRL of an issuer has expired, *every* certificate of that issuer is refused.

Pure parts (ACL text, OpenSSL's name hash, file numbering) come first; the functions that touch
files, signals and the network follow.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import signal
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from fleet_manager.brokers.mosquitto_config import CURRENT_CRL_FILE
from protocol.identities import require_device_id
from provisioning.ca import (
    CertificateAuthority,
    build_crl,
    issue_certificate,
    write_file_atomically,
)
from provisioning.tls import TlsFiles
from transport.log import get_logger
from transport.mqtt import BrokerEndpoint, LinkOptions, MqttLink

log = get_logger("fleet_manager.brokers.revocation")

ACL_BEGIN = "# BEGIN beacon revoked devices"
ACL_END = "# END beacon revoked devices"
ACL_NOTE = "# Managed by fleet_manager.brokers.revocation: revoked kiosks get no topic at all."

DEFAULT_NEXT_UPDATE = timedelta(days=7)
KICK_CERT_LIFETIME = timedelta(minutes=5)
_CRL_NAME = re.compile(r"^(?P<hash>[0-9a-f]{8})\.r(?P<index>[0-9]+)$")
_CRL_FILE_MODE = 0o644  # CRLs are public; the broker's account must read them.
_LOCK_FILE = ".revocation.lock"  # OpenSSL only opens <hash>.N / <hash>.rN names; this is ignored.


# -- ACL (pure) ------------------------------------------------------------------------------


def _split_acl(acl_text: str) -> tuple[list[str], list[str]]:
    """(lines outside the managed block, lines inside it); ValueError if the markers are bad."""
    lines = acl_text.splitlines()
    begins = [i for i, line in enumerate(lines) if line.strip() == ACL_BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == ACL_END]
    if not begins and not ends:
        return lines, []
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise ValueError(
            f"the ACL's revoked-devices block is damaged: expect one {ACL_BEGIN!r} line"
            f" followed by one {ACL_END!r} line"
        )
    begin, end = begins[0], ends[0]
    return lines[:begin] + lines[end + 1 :], lines[begin + 1 : end]


def revoked_in_acl(acl_text: str) -> frozenset[str]:
    """The device ids the managed block of ``acl_text`` denies."""
    _, block = _split_acl(acl_text)
    return frozenset(line.split()[1] for line in block if line.startswith("user "))


def acl_with_revoked(acl_text: str, device_ids: Iterable[str]) -> str:
    """``acl_text`` with its managed block denying every topic to exactly ``device_ids``.

    The block always goes at the end: in a Mosquitto ACL file a ``topic`` line belongs to the
    nearest ``user`` line above it, so a block in the middle would capture the lines after it.
    Mosquitto refuses an access if any of the client's own ``topic deny`` lines matches, before
    it looks at ``pattern`` grants. An empty ``device_ids`` removes the block. Idempotent.
    Raises ValueError for an invalid device id or a damaged block.
    """
    if isinstance(device_ids, str):
        raise TypeError("device_ids must be an iterable of ids, not a single string")
    ids = sorted({require_device_id(device_id) for device_id in device_ids})
    outside, _ = _split_acl(acl_text)
    base = "\n".join(outside).rstrip("\n")
    if not ids:
        return base + "\n" if base else ""
    block = [ACL_BEGIN, ACL_NOTE]
    for device_id in ids:
        block += [f"user {device_id}", "topic deny #"]
    block.append(ACL_END)
    prefix = base + "\n\n" if base else ""
    return prefix + "\n".join(block) + "\n"


# -- CRL files (pure) ------------------------------------------------------------------------


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(encoded)]) + encoded + content


def _der_oid(oid: x509.ObjectIdentifier) -> bytes:
    arcs = [int(arc) for arc in oid.dotted_string.split(".")]
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return _der(0x06, bytes(body))


def _canonical_value(value: str) -> bytes:
    # OpenSSL's asn1_string_canon: trim and collapse ASCII white space, lower-case ASCII only.
    raw = value.encode("utf-8")
    spaces = b" \t\n\v\f\r"
    raw = raw.strip(spaces)
    out = bytearray()
    i = 0
    while i < len(raw):
        byte = raw[i]
        if byte in spaces:
            out.append(0x20)
            while i < len(raw) and raw[i] in spaces:
                i += 1
            continue
        out.append(byte + 32 if 0x41 <= byte <= 0x5A else byte)
        i += 1
    return bytes(out)


def openssl_name_hash(name: x509.Name) -> str:
    """OpenSSL's ``X509_NAME_hash`` of ``name`` as 8 hex digits (``openssl crl -hash``).

    The hash-directory lookup finds an issuer's CRLs as ``<this>.rN``. It is SHA-1 over the
    canonical encoding (each RDN as a DER SET whose string values are canonicalised UTF8Strings,
    without the outer SEQUENCE), first four bytes read little-endian.
    """
    canonical = bytearray()
    for rdn in name.rdns:
        entries = []
        for attribute in rdn:
            if not isinstance(attribute.value, str):
                raise ValueError(f"name attribute {attribute.oid.dotted_string} is not a string")
            value = _der(0x0C, _canonical_value(attribute.value))
            entries.append(_der(0x30, _der_oid(attribute.oid) + value))
        canonical += _der(0x31, b"".join(sorted(entries)))
    digest = hashlib.sha1(bytes(canonical), usedforsecurity=False).digest()
    return f"{int.from_bytes(digest[:4], 'little'):08x}"


def crl_sequences(names: Iterable[str]) -> dict[str, list[int]]:
    """The ``.rN`` numbers present per issuer hash, sorted, from a directory's file names."""
    found: dict[str, list[int]] = {}
    for name in names:
        match = _CRL_NAME.fullmatch(name)
        if match:
            found.setdefault(match["hash"], []).append(int(match["index"]))
    return {issuer: sorted(indexes) for issuer, indexes in found.items()}


def next_crl_index(indexes: list[int]) -> int:
    """The number of the next ``.rN`` file; ValueError if the existing numbers have a gap.

    After a restart OpenSSL reads ``.r0`` upwards and stops at the first missing number, so
    anything written after a gap would never be read.
    """
    if indexes != list(range(len(indexes))):
        missing = next(i for i in range(len(indexes) + 1) if i not in indexes)
        raise ValueError(
            f"the CRL files have a gap at .r{missing}: OpenSSL stops reading there. Restore it,"
            " or renumber the files from .r0 while the broker is stopped"
        )
    return len(indexes)


def _crl_number(crl: x509.CertificateRevocationList) -> int:
    try:
        number: int = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        raise ValueError("the CRL has no CRLNumber extension") from None
    return number


def check_crl_succeeds(
    previous: x509.CertificateRevocationList, new: x509.CertificateRevocationList
) -> None:
    """ValueError unless ``new`` is a valid successor of ``previous`` (same issuer).

    OpenSSL picks the valid CRL with the latest lastUpdate (one-second resolution): an equal
    lastUpdate may leave the old CRL in force, and an earlier nextUpdate would let an older CRL
    win again once the new one expires.
    """
    if new.issuer != previous.issuer:
        raise ValueError("the new CRL has a different issuer")
    if new.last_update_utc <= previous.last_update_utc:
        raise ValueError(
            f"the new CRL's lastUpdate ({new.last_update_utc}) must be later than the"
            f" current one's ({previous.last_update_utc})"
        )
    new_next, old_next = new.next_update_utc, previous.next_update_utc
    if new_next is None or (old_next is not None and new_next < old_next):
        raise ValueError("the new CRL's nextUpdate must not be earlier than the current one's")
    if _crl_number(new) <= _crl_number(previous):
        raise ValueError(
            f"the new CRL's number ({_crl_number(new)}) must be greater than the current one's"
            f" ({_crl_number(previous)})"
        )


# -- CRL files (I/O) -------------------------------------------------------------------------


def latest_crl(crl_dir: Path, issuer: x509.Name) -> x509.CertificateRevocationList | None:
    """The newest CRL of ``issuer`` in ``crl_dir`` (its highest ``.rN``), if any."""
    indexes = crl_sequences(p.name for p in crl_dir.iterdir()).get(openssl_name_hash(issuer))
    if not indexes:
        return None
    path = crl_dir / f"{openssl_name_hash(issuer)}.r{indexes[-1]}"
    return x509.load_pem_x509_crl(path.read_bytes())


def _current_bundle(crl_dir: Path) -> bytes:
    sequences = crl_sequences(p.name for p in crl_dir.iterdir())
    return b"".join(
        (crl_dir / f"{issuer}.r{indexes[-1]}").read_bytes()
        for issuer, indexes in sorted(sequences.items())
    )


def write_crl(crl_dir: Path, crl_pem: bytes) -> Path:
    """Publish ``crl_pem`` as its issuer's next ``<hash>.rN`` in ``crl_dir``; return that path.

    Also rewrites ``current.crl.pem`` (the listener's ``crlfile``) as the newest CRL of every
    issuer in the directory, for the next broker start. Both writes are atomic; the ``.rN``
    file is created exclusively, so two writers cannot overwrite each other's CRL. Raises
    ValueError if the CRL does not succeed the issuer's current one (see
    :func:`check_crl_succeeds`) or the numbering has a gap.
    """
    crl = x509.load_pem_x509_crl(crl_pem)
    if crl.next_update_utc is None:
        raise ValueError("the CRL has no nextUpdate")
    _crl_number(crl)
    crl_dir.mkdir(parents=True, exist_ok=True)
    issuer_hash = openssl_name_hash(crl.issuer)
    while True:
        previous = latest_crl(crl_dir, crl.issuer)
        if previous is not None:
            check_crl_succeeds(previous, crl)
        indexes = crl_sequences(p.name for p in crl_dir.iterdir()).get(issuer_hash, [])
        path = crl_dir / f"{issuer_hash}.r{next_crl_index(indexes)}"
        try:
            write_file_atomically(path, crl_pem, _CRL_FILE_MODE, replace=False)
            break
        except FileExistsError:
            continue  # another writer took this number a moment ago: check against its CRL
    write_file_atomically(crl_dir / CURRENT_CRL_FILE, _current_bundle(crl_dir), _CRL_FILE_MODE)
    return path


@dataclass(frozen=True)
class PublishedCrl:
    path: Path
    crl_number: int
    revoked_count: int
    last_update: datetime


def _wait_past(moment: datetime) -> datetime:
    # A CRL whose lastUpdate is in the future is "not yet valid" and OpenSSL would keep the old
    # one; so wait (at most a second) for the clock rather than backdate or postdate.
    while (now := datetime.now(UTC).replace(microsecond=0)) <= moment:
        time.sleep(0.05)
    return now


@contextlib.contextmanager
def _revocation_lock(crl_dir: Path) -> Iterator[None]:
    # The fleet manager's refresh and `revoke` commands may run at the same moment; each must
    # build on the other's CRL (and ACL), or one revocation could be dropped from the next.
    fd = os.open(crl_dir / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def publish_crl(
    crl_dir: Path,
    ca: CertificateAuthority,
    revoke: Mapping[int, datetime] | None = None,
    *,
    now: datetime | None = None,
    next_update: timedelta = DEFAULT_NEXT_UPDATE,
) -> PublishedCrl:
    """Sign and publish ``ca``'s next CRL: the current entries plus ``revoke`` (serial → when).

    With nothing to add this re-publishes the same list with a later nextUpdate: run it
    regularly (daily) so the CRL never expires. Entries are never dropped. ``now`` is for tests
    and must then be later than the current CRL's lastUpdate; without it the clock is used,
    waiting up to a second if a CRL was published within the same second.
    """
    crl_dir.mkdir(parents=True, exist_ok=True)
    with _revocation_lock(crl_dir):
        previous = latest_crl(crl_dir, ca.certificate.subject)
        if previous is None:
            entries: dict[int, datetime] = {}
            number = 1
            issued_at = datetime.now(UTC) if now is None else now
        else:
            entries = {item.serial_number: item.revocation_date_utc for item in previous}
            number = _crl_number(previous) + 1
            issued_at = _wait_past(previous.last_update_utc) if now is None else now
        for serial, revoked_at in (revoke or {}).items():
            entries.setdefault(serial, revoked_at)
        crl_pem = build_crl(
            ca, sorted(entries.items()), crl_number=number, now=issued_at, next_update=next_update
        )
        path = write_crl(crl_dir, crl_pem)
    published = PublishedCrl(path, number, len(entries), issued_at.replace(microsecond=0))
    log.info(
        "revocation_crl_published",
        crl=path.name,
        crl_number=number,
        revoked_count=len(entries),
    )
    return published


def ensure_crl(crl_dir: Path, ca: CertificateAuthority) -> Path:
    """Make sure ``crl_dir`` holds a CRL of ``ca`` (an empty one if none); return crlfile's path.

    Run before the first broker start, and for a new issuing CA before any of its certificates
    is used: with CRL checks on, a certificate whose issuer has no CRL is refused.
    """
    if not crl_dir.exists() or latest_crl(crl_dir, ca.certificate.subject) is None:
        publish_crl(crl_dir, ca)
    return crl_dir / CURRENT_CRL_FILE


# -- ACL file, SIGHUP, kick (I/O) ------------------------------------------------------------


def update_acl_file(acl_file: Path, device_id: str) -> bool:
    """Add ``device_id`` to the ACL file's revoked block; False if it was already there.

    Keeps the file's mode and owner (the broker may read it as another account).
    """
    text = acl_file.read_text(encoding="utf-8")
    ids = revoked_in_acl(text) | {require_device_id(device_id)}
    new_text = acl_with_revoked(text, ids)
    if new_text == text:
        return False
    stat = acl_file.stat()
    write_file_atomically(
        acl_file,
        new_text.encode("utf-8"),
        stat.st_mode & 0o777,
        owner=(stat.st_uid, stat.st_gid),
    )
    return True


class BrokerReloadError(RuntimeError):
    """The broker could not be sent SIGHUP (no pid file, stale pid, not permitted)."""


def reload_broker(pid_file: Path) -> int:
    """Send SIGHUP to the Mosquitto whose pid is in ``pid_file``; return that pid.

    Mosquitto then re-reads its ACL file. Refuses (BrokerReloadError) a missing or unreadable
    pid file, and a pid that is not running or (where /proc exists) is not a mosquitto process:
    a pid reused by another program must not be sent a signal meant for the broker.
    """
    try:
        text = pid_file.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise BrokerReloadError(f"cannot read the broker's pid file {pid_file}: {exc}") from None
    if not text.isdigit() or int(text) <= 1:
        raise BrokerReloadError(f"the pid file {pid_file} holds no pid: {text[:20]!r}")
    pid = int(text)
    proc = Path("/proc")
    if proc.is_dir():
        try:
            command = (proc / str(pid) / "comm").read_text(encoding="utf-8").strip()
        except OSError:
            raise BrokerReloadError(
                f"stale pid file {pid_file}: no process {pid} (is the broker running?)"
            ) from None
        if command != "mosquitto":
            raise BrokerReloadError(
                f"stale pid file {pid_file}: process {pid} is {command!r}, not mosquitto"
            )
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise BrokerReloadError(f"stale pid file {pid_file}: no process {pid}") from None
    except PermissionError:
        raise BrokerReloadError(f"not permitted to signal the broker (pid {pid})") from None
    log.info("revocation_broker_reloaded", pid=pid)
    return pid


def kick_client(
    host: str,
    port: int,
    cafile: Path,
    ca: CertificateAuthority,
    device_id: str,
    *,
    timeout: float = 10.0,
    lifetime: timedelta = KICK_CERT_LIFETIME,
) -> bool:
    """Close ``device_id``'s connection by logging in as it (MQTT session takeover).

    Signs a ``lifetime``-long client certificate for the CN with ``ca`` (its key never leaves
    a private temporary directory, deleted at once), connects with a clean start and leaves.
    True once the broker has accepted the connection, which it does only after closing any
    existing one of that client id; False if it refused or did not answer within ``timeout``.
    ``cafile`` is the trust anchor the broker's server certificate chains to.
    """
    require_device_id(device_id)
    issued = issue_certificate(ca, device_id, usage="client", valid_for=lifetime)
    with tempfile.TemporaryDirectory(prefix="beacon-kick-") as private:  # created 0700
        certfile, keyfile = Path(private, "cert.pem"), Path(private, "key.pem")
        write_file_atomically(certfile, issued.cert_pem, 0o600)
        write_file_atomically(keyfile, issued.key_pem, 0o600)
        link = MqttLink(
            BrokerEndpoint(host, port, TlsFiles(cafile=cafile, certfile=certfile, keyfile=keyfile)),
            LinkOptions(client_id=device_id, persistent=False, name="revocation-kick"),
            on_message=lambda _topic, _payload, _qos: None,
        )
        link.start()
        try:
            kicked = link.wait_connected(timeout)
        finally:
            link.stop()
    log.info("revocation_kick", device_id=device_id, kicked=kicked)
    return kicked


# -- the whole procedure ---------------------------------------------------------------------


@dataclass(frozen=True)
class BrokerHandle:
    """What revocation needs of one running fleet broker."""

    acl_file: Path
    crl_dir: Path
    pid_file: Path
    host: str
    port: int
    cafile: Path  # the trust anchor of the broker's server certificate, for the kick


@dataclass(frozen=True)
class CutOffReport:
    """What :func:`cut_off` did. ``problems`` names each step that failed, with why."""

    device_id: str
    crl: PublishedCrl | None
    acl_changed: bool
    reloaded_pid: int | None
    kicked: bool
    problems: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.problems


def cut_off(
    device_id: str,
    serials: Iterable[int],
    *,
    ca: CertificateAuthority,
    broker: BrokerHandle,
    kick_timeout: float = 10.0,
    now: datetime | None = None,
) -> CutOffReport:
    """Revoke ``device_id``'s certificates (``serials``) and throw it off the broker now.

    In this order, so the kiosk can never slip back in: (1) publish a CRL with ``serials`` (its
    reconnects now fail at TLS); (2) deny it every topic in the ACL and SIGHUP the broker (its
    traffic stops even if it stays connected); (3) take over its session, which closes its
    connection. Each step is tried even if an earlier one failed (each still helps); failures
    are logged and listed in the report, so the caller can say what to retry. Idempotent.
    ``now`` dates the revocation entries only; the CRL itself is always dated by the clock.
    """
    require_device_id(device_id)
    revoked_at = (datetime.now(UTC) if now is None else now).replace(microsecond=0)
    problems: list[str] = []
    crl: PublishedCrl | None = None
    acl_changed = False
    pid: int | None = None

    def failed(step: str, exc: Exception) -> None:
        problems.append(f"{step}: {exc}")
        log.error(
            "revocation_step_failed",
            step=step,
            device_id=device_id,
            error=type(exc).__name__,
            detail=str(exc),
        )

    try:
        # Dated by the clock, not by ``now``: OpenSSL compares the CRL's dates with its clock.
        crl = publish_crl(broker.crl_dir, ca, dict.fromkeys(serials, revoked_at))
    except (OSError, ValueError) as exc:
        failed("crl", exc)
    try:
        with _revocation_lock(broker.crl_dir):
            acl_changed = update_acl_file(broker.acl_file, device_id)
        pid = reload_broker(broker.pid_file)
    except (OSError, ValueError, BrokerReloadError) as exc:
        failed("acl", exc)
    kicked = False
    try:
        kicked = kick_client(
            broker.host, broker.port, broker.cafile, ca, device_id, timeout=kick_timeout
        )
        if not kicked:
            problems.append("kick: the broker did not accept the takeover connection in time")
    except (OSError, ValueError) as exc:
        failed("kick", exc)
    report = CutOffReport(device_id, crl, acl_changed, pid, kicked, tuple(problems))
    log.info(
        "revocation_cut_off",
        device_id=device_id,
        crl_number=crl.crl_number if crl is not None else None,
        acl_changed=acl_changed,
        reloaded=pid is not None,
        kicked=kicked,
        complete=report.complete,
    )
    return report
