"""The device profile: one TOML file that says everything about one kiosk's Pi image.

Sections (see ``sample-profile.toml`` for every key with a comment):

- ``[system]``   hostname, timezone, NTP servers, kiosk user, extra packages, read-only root
- ``[display]``  connector, rotation, resolution, optional legacy HDMI group/mode, and the
  kiosk's display schedule (``motion_wake_seconds``, ``[[display.windows]]``)
- ``[network]``  wired DHCP, optional DNS servers, optional ``[network.wifi]``
- ``[fleet]``    enrolment server (https), enrolment token, broker, extra outbound hosts
- ``[ssh]``      ``off`` or ``key-only`` with authorized keys
- ``[hardware]``, ``[sms]``  copied as they are into ``STATE_DIR/kiosk.toml``

Validation is two passes: pydantic checks types and formats, then :func:`_semantic_problems`
checks what depends on several fields. ``[hardware]``, ``[sms]`` and the display schedule are
checked by the kiosk's own parser (:func:`device.agent.device_config.parse_device_config`), so
a profile that passes here yields a ``kiosk.toml`` the kiosk accepts. Every problem names the
file, the section and the field: ``profile.toml: [fleet] enrolment_url: must use https``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

# -- field formats -------------------------------------------------------------------------

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_DNS_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS_NAME = re.compile(rf"^(?=.{{1,253}}$)({_DNS_LABEL}\.)*{_DNS_LABEL}$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,30}$")
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_ROOT_DEVICE = re.compile(
    r"^(/dev/[A-Za-z0-9/_-]+|PARTUUID=[0-9A-Fa-f-]+|UUID=[0-9A-Fa-f-]+|LABEL=[A-Za-z0-9_-]+)$"
)
_CONNECTOR = re.compile(r"^(HDMI-A-[12]|DSI-[12]|DPI-1|Composite-1)$")
_RESOLUTION = re.compile(r"^(auto|[1-9]\d{2,3}x[1-9]\d{2,3}(@[1-9]\d{1,2})?)$")
_TOKEN = re.compile(r"^[A-Za-z0-9._~+/=-]{16,1024}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_SSH_KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)
_URL_FORBIDDEN = set(" \t\r\n'\"`$\\;&|<>(){}")


def _hostname(value: str) -> str:
    if not _LABEL.match(value):
        raise ValueError(
            "must be one DNS label: lowercase letters, digits and '-', 1-63 characters, "
            f"not starting or ending with '-' (got {value!r})"
        )
    return value


def _timezone(value: str) -> str:
    known = zoneinfo.available_timezones()
    if known and value in known:
        return value
    if not known and re.match(r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$", value):
        return value  # no tz database on this machine to check against
    raise ValueError(f"{value!r} is not a time zone name such as 'Europe/London' or 'UTC'")


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _host(value: str) -> str:
    if is_ip(value) or _DNS_NAME.match(value):
        return value
    raise ValueError(f"{value!r} is not a host name or IP address")


def _ip(value: str) -> str:
    if not is_ip(value):
        raise ValueError(f"{value!r} is not an IP address")
    return value


def _network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an address or network like 10.0.0.0/8") from None
    return value


@dataclass(frozen=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_host_port(value: str) -> HostPort:
    """``host:port`` or ``[v6addr]:port`` → :class:`HostPort`; ValueError otherwise."""
    match = re.match(r"^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$", value) or re.match(
        r"^([^:\[\]]+):(\d{1,5})$", value
    )
    if not match:
        raise ValueError(f"{value!r} is not host:port (e.g. 'broker.example.org:8883')")
    host, port = match.group(1), int(match.group(2))
    _host(host)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} in {value!r} is not 1-65535")
    return HostPort(host, port)


def _host_port(value: str) -> str:
    parse_host_port(value)
    return value


def _https_url(value: str) -> str:
    if _URL_FORBIDDEN & set(value):
        raise ValueError(f"{value!r} contains spaces, quotes or shell characters")
    parts = urlsplit(value)
    if parts.scheme != "https":
        raise ValueError(f"must use https, not {parts.scheme or 'no scheme'} ({value!r})")
    if not parts.hostname or parts.username or parts.password:
        raise ValueError(f"{value!r} needs a host and no user name or password")
    _host(parts.hostname)
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValueError(f"{value!r} has a bad port") from None
    return value


def _token(value: str) -> str:
    if not _TOKEN.match(value):
        raise ValueError(
            "must be 16-1024 characters of letters, digits and . _ ~ + / = - (no spaces)"
        )
    return value


def _pem_certificate(value: str) -> str:
    if not value:
        return value
    from cryptography import x509

    try:
        x509.load_pem_x509_certificates(value.encode())
    except ValueError:
        raise ValueError("must be one or more PEM certificates") from None
    return value if value.endswith("\n") else value + "\n"


def _user(value: str) -> str:
    if not _USER.match(value) or value == "root":
        raise ValueError(f"{value!r} is not a usable Linux user name (lowercase, not root)")
    return value


def _package(value: str) -> str:
    if not _PACKAGE.match(value):
        raise ValueError(f"{value!r} is not a Debian package name")
    return value


def _ssh_key(value: str) -> str:
    fields = value.split()
    if len(fields) < 2 or fields[0] not in _SSH_KEY_TYPES:
        raise ValueError(
            f"{value[:40]!r}… is not an OpenSSH public key line ('ssh-ed25519 AAAA… comment')"
        )
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except binascii.Error:
        raise ValueError(f"the key data of {fields[0]} key is not base64") from None
    length = int.from_bytes(blob[:4], "big")
    if blob[4 : 4 + length] != fields[0].encode():
        raise ValueError(f"the key data does not hold a {fields[0]} key")
    return value


def _ssid(value: str) -> str:
    if not 1 <= len(value.encode("utf-8")) <= 32:
        raise ValueError("must be 1-32 bytes")
    if any(ord(c) < 32 for c in value):
        raise ValueError("must not contain control characters")
    return value


def _psk(value: str) -> str:
    if re.match(r"^[0-9A-Fa-f]{64}$", value):
        return value
    if not 8 <= len(value) <= 63 or not all(32 <= ord(c) < 127 for c in value):
        raise ValueError("must be 8-63 printable ASCII characters (or 64 hex digits)")
    return value


def _country(value: str) -> str:
    if not _COUNTRY.match(value):
        raise ValueError(f"{value!r} is not a two-letter country code such as 'GB'")
    return value


def _pattern(regex: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not regex.match(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


Hostname = Annotated[str, AfterValidator(_hostname)]
Host = Annotated[str, AfterValidator(_host)]
IpAddress = Annotated[str, AfterValidator(_ip)]
IpNetwork = Annotated[str, AfterValidator(_network)]
HostPortText = Annotated[str, AfterValidator(_host_port)]
UserName = Annotated[str, AfterValidator(_user)]
PackageName = Annotated[str, AfterValidator(_package)]
SshKey = Annotated[str, AfterValidator(_ssh_key)]


# -- the sections ------------------------------------------------------------------------


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SystemSection(_Section):
    hostname: Hostname
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"
    ntp_servers: Annotated[list[Host], Field(min_length=1)]
    kiosk_user: UserName = "kiosk"
    packages: list[PackageName] = []
    read_only_root: bool = True
    root_device: Annotated[
        str, _pattern(_ROOT_DEVICE, "a root device like /dev/mmcblk0p2 or PARTUUID=…")
    ] = "/dev/mmcblk0p2"
    state_partition_mib: Annotated[int, Field(ge=64, le=65536)] = 1024


class DisplaySection(_Section):
    connector: Annotated[
        str, _pattern(_CONNECTOR, "a KMS connector: HDMI-A-1, HDMI-A-2, DSI-1, DSI-2, DPI-1")
    ] = "HDMI-A-1"
    rotation: Literal[0, 90, 180, 270] = 0
    resolution: Annotated[str, _pattern(_RESOLUTION, "'auto', 'WIDTHxHEIGHT' or 'WxH@HZ'")] = "auto"
    hdmi_group: Literal[1, 2] | None = None
    hdmi_mode: Annotated[int, Field(ge=1, le=107)] | None = None
    # The kiosk's display schedule, checked by the kiosk's own parser.
    motion_wake_seconds: float | None = None
    windows: list[dict[str, Any]] | None = None


class WifiSection(_Section):
    ssid: Annotated[str, AfterValidator(_ssid)]
    psk: Annotated[str, AfterValidator(_psk)]
    country: Annotated[str, AfterValidator(_country)]
    hidden: bool = False


class NetworkSection(_Section):
    ethernet_dhcp: bool = True
    dns_servers: list[IpAddress] = []
    wifi: WifiSection | None = None


class FleetSection(_Section):
    enrolment_url: Annotated[str, AfterValidator(_https_url)]
    enrolment_token: Annotated[str, AfterValidator(_token)]
    # PEM of the CA the enrolment server's certificate chains to (the fleet root), if that
    # server does not use a publicly trusted certificate.
    enrolment_ca: Annotated[str, AfterValidator(_pem_certificate)] = ""
    broker: HostPortText
    allowed_outbound: list[HostPortText] = []


class SshSection(_Section):
    mode: Literal["off", "key-only"] = "off"
    user: UserName = "beacon-admin"
    authorized_keys: list[SshKey] = []
    allow_from: list[IpNetwork] = []


class Profile(_Section):
    system: SystemSection
    display: DisplaySection = DisplaySection()
    network: NetworkSection = NetworkSection()
    fleet: FleetSection
    ssh: SshSection = SshSection()
    hardware: dict[str, Any] = {}
    sms: dict[str, Any] = {}

    @property
    def broker(self) -> HostPort:
        return parse_host_port(self.fleet.broker)

    @property
    def enrolment(self) -> HostPort:
        parts = urlsplit(self.fleet.enrolment_url)
        return HostPort(parts.hostname or "", parts.port or 443)

    @property
    def allowed_outbound(self) -> list[HostPort]:
        return [parse_host_port(v) for v in self.fleet.allowed_outbound]

    def kiosk_config(self) -> dict[str, Any]:
        """The ``STATE_DIR/kiosk.toml`` document (see :mod:`device.agent.device_config`)."""
        display: dict[str, Any] = {}
        if self.display.motion_wake_seconds is not None:
            display["motion_wake_seconds"] = self.display.motion_wake_seconds
        if self.display.windows is not None:
            display["windows"] = self.display.windows
        doc: dict[str, Any] = {}
        for name, section in (("hardware", self.hardware), ("sms", self.sms)):
            if section:
                doc[name] = dict(section)
        if display:
            doc["display"] = display
        return doc


# -- loading and checking ----------------------------------------------------------------


class ProfileError(ValueError):
    """The profile cannot be used; :attr:`problems` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_profile(path: Path) -> Profile:
    """Read and validate a profile; :class:`ProfileError` lists every problem found."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProfileError([f"{source}: cannot be read ({exc.strerror or exc})"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProfileError([f"{source}: not valid TOML ({exc})"]) from None
    return parse_profile(data, source)


def parse_profile(data: Mapping[str, Any], source: str = "profile.toml") -> Profile:
    try:
        profile = Profile.model_validate(dict(data))
    except ValidationError as exc:
        raise ProfileError(
            [_describe(source, e["loc"], e["msg"], e["type"]) for e in exc.errors()]
        ) from None
    problems = _semantic_problems(profile, source)
    if problems:
        raise ProfileError(problems)
    return profile


def check_profile(path: Path) -> list[str]:
    """Every problem with the profile at ``path`` (empty when it can be rendered)."""
    try:
        load_profile(path)
    except ProfileError as exc:
        return exc.problems
    return []


def _describe(source: str, loc: tuple[int | str, ...], msg: str, kind: str) -> str:
    """A pydantic error location → ``file: [section] field: message``."""
    names = [str(p) for p in loc if not isinstance(p, int)]
    indexes = "".join(f"[{p}]" for p in loc if isinstance(p, int))
    msg = msg.removeprefix("Value error, ")
    if kind == "extra_forbidden":
        msg = "unknown setting"
    if kind == "missing":
        msg = "is required"
    if len(names) <= 1:
        section = names[0] if names else ""
        if kind == "extra_forbidden":
            return f"{source}: [{section}]: unknown section"
        return f"{source}: [{section}]: {msg}"
    return f"{source}: [{'.'.join(names[:-1])}] {names[-1]}{indexes}: {msg}"


def _semantic_problems(profile: Profile, source: str) -> list[str]:
    problems: list[str] = []

    def problem(section: str, key: str, message: str) -> None:
        problems.append(f"{source}: [{section}] {key}: {message}")

    display = profile.display
    if (display.hdmi_group is None) != (display.hdmi_mode is None):
        problem("display", "hdmi_mode", "hdmi_group and hdmi_mode go together: set both or none")
    if display.hdmi_group is not None and not display.connector.startswith("HDMI"):
        problem("display", "hdmi_group", f"only applies to HDMI, not {display.connector}")
    if display.hdmi_group == 2 and display.hdmi_mode is not None and display.hdmi_mode > 87:
        problem("display", "hdmi_mode", "DMT (hdmi_group 2) modes are 1-87")

    network = profile.network
    if not network.ethernet_dhcp and network.wifi is None:
        problem("network", "ethernet_dhcp", "is false and there is no [network.wifi]: no network")

    ssh = profile.ssh
    if ssh.mode == "key-only" and not ssh.authorized_keys:
        problem("ssh", "authorized_keys", "key-only needs at least one public key")
    if ssh.mode == "off" and (ssh.authorized_keys or ssh.allow_from):
        key = "authorized_keys" if ssh.authorized_keys else "allow_from"
        problem("ssh", key, 'given, but mode is off (set mode = "key-only" to use them)')
    if ssh.mode == "key-only" and ssh.user == profile.system.kiosk_user:
        problem("ssh", "user", "must differ from [system] kiosk_user (the kiosk holds its keys)")

    problems.extend(_kiosk_config_problems(profile, source))
    return problems


def _kiosk_config_problems(profile: Profile, source: str) -> list[str]:
    """Run the kiosk's own parser over what will become ``kiosk.toml``."""
    from device.agent.device_config import DeviceConfigError, parse_device_config

    try:
        config = parse_device_config(profile.kiosk_config(), source)
    except DeviceConfigError as exc:
        return [str(exc)]
    # The kiosk only warns about a bad display window (and leaves the screen alone); a profile
    # is checked before it reaches any kiosk, so here it is an error.
    return list(config.display.warnings)


def profile_warnings(profile: Profile, source: str) -> list[str]:
    """Values that look like the sample's placeholders (they render, but will not work)."""
    found: list[str] = []

    def walk(value: Any, where: list[str]) -> None:
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name), [*where, name])
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, [*where, str(key)])
        elif isinstance(value, list):
            for item in value:
                walk(item, where)
        elif isinstance(value, str) and _looks_placeholder(value):
            section, key = ".".join(where[:-1]), where[-1]
            found.append(f"{source}: [{section}] {key}: looks like a placeholder ({value!r})")

    walk(profile, [])
    return found


def _looks_placeholder(value: str) -> bool:
    lowered = value.lower()
    if "replace-me" in lowered or "replace_me" in lowered:
        return True
    host = urlsplit(value).hostname if "://" in value else value.rsplit(":", 1)[0]
    host = (host or "").lower()
    return any(host == d or host.endswith("." + d) for d in ("example.org", "example.com"))
