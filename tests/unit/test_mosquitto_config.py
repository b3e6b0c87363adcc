"""Rendered Mosquitto configuration and ACL text: the directives the security model relies on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fleet_manager.brokers.mosquitto_config import (
    BridgeSpec,
    render_fleet_acl,
    render_fleet_broker_conf,
    render_responder_acl,
    render_responder_broker_conf,
)
from provisioning.tls import TlsFiles

BASE = Path("/srv/beacon")


def _tls(name: str) -> TlsFiles:
    return TlsFiles(BASE / name / "ca.pem", BASE / name / "cert.pem", BASE / name / "key.pem")


def _bridge(region: str, port: int = 9001) -> BridgeSpec:
    return BridgeSpec(region=region, host="127.0.0.1", port=port, tls=_tls(f"bridge-{region}"))


def _fleet_conf(**overrides: object) -> str:
    kwargs: dict[str, object] = {
        "port": 8883,
        "tls": _tls("fleet-broker"),
        "data_dir": BASE / "data",
        "acl_file": BASE / "acl",
        "log_file": BASE / "mosquitto.log",
        "bridges": [_bridge("r1", 9001), _bridge("r2", 9002)],
    }
    kwargs.update(overrides)
    return render_fleet_broker_conf(**kwargs)  # type: ignore[arg-type]


def _responder_conf(**overrides: object) -> str:
    kwargs: dict[str, object] = {
        "region": "r1",
        "port": 9001,
        "tls": _tls("responder-broker-r1"),
        "data_dir": BASE / "r1" / "data",
        "acl_file": BASE / "r1" / "acl",
        "log_file": None,
    }
    kwargs.update(overrides)
    return render_responder_broker_conf(**kwargs)  # type: ignore[arg-type]


def _directives(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def _main_section(text: str) -> list[str]:
    """Directives before the first bridge, i.e. the broker's own settings."""
    lines = _directives(text)
    starts = [i for i, line in enumerate(lines) if line.startswith("connection ")]
    return lines[: starts[0]] if starts else lines


def _bridge_blocks(text: str) -> dict[str, list[str]]:
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in _directives(text):
        if line.startswith("connection "):
            current = blocks.setdefault(line.split()[1], [])
        if current is not None:
            current.append(line)
    return blocks


COMMON_DIRECTIVES = [
    "per_listener_settings false",
    "allow_anonymous false",
    "require_certificate true",
    "use_identity_as_username true",
    "use_username_as_clientid true",
    "tls_version tlsv1.2",
    "persistence true",
    "persistent_client_expiration 14d",
    "max_queued_messages 1000",
    "max_inflight_messages 20",
    "max_packet_size 266240",
    "max_keepalive 300",
    "set_tcp_nodelay true",
    "log_type error",
    "log_type warning",
    "log_type notice",
    "connection_messages true",
    "log_timestamp_format %Y-%m-%dT%H:%M:%S",
]


@pytest.mark.parametrize("directive", COMMON_DIRECTIVES)
@pytest.mark.parametrize("render", [_fleet_conf, _responder_conf], ids=["fleet", "responder"])
def test_both_brokers_have_the_security_and_persistence_directives(
    render: Callable[[], str], directive: str
) -> None:
    assert directive in _main_section(render())


@pytest.mark.parametrize(
    ("directive", "expected"),
    [
        ("listener", "listener 8883 127.0.0.1"),
        ("cafile", "cafile /srv/beacon/fleet-broker/ca.pem"),
        ("certfile", "certfile /srv/beacon/fleet-broker/cert.pem"),
        ("keyfile", "keyfile /srv/beacon/fleet-broker/key.pem"),
        ("acl_file", "acl_file /srv/beacon/acl"),
        ("persistence_location", "persistence_location /srv/beacon/data/"),
        ("log_dest", "log_dest file /srv/beacon/mosquitto.log"),
    ],
)
def test_fleet_broker_paths_and_listener(directive: str, expected: str) -> None:
    matching = [line for line in _main_section(_fleet_conf()) if line.split()[0] == directive]
    assert matching == [expected]


def test_exactly_one_listener_and_autosave_is_small() -> None:
    lines = _main_section(_fleet_conf())
    assert [line for line in lines if line.startswith("listener ")] == ["listener 8883 127.0.0.1"]
    (autosave,) = [line for line in lines if line.startswith("autosave_interval ")]
    assert 0 < int(autosave.split()[1]) <= 60


def test_bind_host_log_to_stderr_and_user() -> None:
    lines = _main_section(_fleet_conf(bind_host="0.0.0.0", log_file=None, user="root"))
    assert "listener 8883 0.0.0.0" in lines
    assert "log_dest stderr" in lines
    assert "user root" in lines
    assert not any(line.startswith("user ") for line in _main_section(_fleet_conf()))


def test_one_bridge_block_per_region_with_exactly_two_topic_lines() -> None:
    blocks = _bridge_blocks(_fleet_conf())
    assert set(blocks) == {"bridge-r1", "bridge-r2"}
    for region, port in (("r1", 9001), ("r2", 9002)):
        block = blocks[f"bridge-{region}"]
        assert [line for line in block if line.startswith("topic ")] == [
            f"topic beacon/v1/resp/{region}/incident/# out 1",
            f"topic beacon/v1/resp/{region}/ack/# in 1",
        ]
        for expected in [
            f"address 127.0.0.1:{port}",
            f"remote_clientid bridge-{region}",
            "cleansession false",
            "bridge_protocol_version mqttv311",
            "notifications false",
            "try_private true",
            "restart_timeout 1 10",
            "keepalive_interval 10",
            f"bridge_cafile /srv/beacon/bridge-{region}/ca.pem",
            f"bridge_certfile /srv/beacon/bridge-{region}/cert.pem",
            f"bridge_keyfile /srv/beacon/bridge-{region}/key.pem",
            "bridge_tls_version tlsv1.2",
            "bridge_insecure false",
        ]:
            assert expected in block, expected
        # Remote credentials come only from the certificate.
        assert not any(line.startswith(("remote_username", "remote_password")) for line in block)


def test_no_bridges_renders_no_bridge_block() -> None:
    assert _bridge_blocks(_fleet_conf(bridges=[])) == {}


def test_responder_broker_has_no_bridge() -> None:
    text = _responder_conf()
    assert _bridge_blocks(text) == {}
    assert "log_dest stderr" in _directives(text)
    assert "listener 9001 127.0.0.1" in _directives(text)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"bridges": [_bridge("r1"), _bridge("r1", 9002)]}, "only one bridge"),
        ({"data_dir": Path("relative/data")}, "must be absolute"),
        ({"log_file": Path("mosquitto.log")}, "must be absolute"),
        ({"port": 0}, "port must be"),
        ({"bind_host": "127.0.0.1\nallow_anonymous true"}, "one line"),
        ({"bridges": [BridgeSpec("r1", "evil\nlistener 1", 9001, _tls("b"))]}, "one line"),
        ({"bridges": [BridgeSpec("R1/#", "127.0.0.1", 9001, _tls("b"))]}, "bridge region"),
        ({"bridges": [BridgeSpec("r1", "127.0.0.1", 9001, TlsFiles(*[Path("x")] * 3))]}, "abs"),
    ],
)
def test_fleet_conf_rejects_bad_input(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _fleet_conf(**overrides)


def test_responder_conf_rejects_bad_region() -> None:
    with pytest.raises(ValueError, match="region"):
        _responder_conf(region="r1/#")


KIOSK_PATTERNS = [
    "pattern write beacon/v1/dev/%u/status",
    "pattern write beacon/v1/dev/%u/telemetry",
    "pattern write beacon/v1/dev/%u/alert",
    "pattern write beacon/v1/dev/%u/event",
    "pattern write beacon/v1/dev/%u/cmd/+/result",
    "pattern read beacon/v1/dev/%u/cmd/+",
    "pattern write beacon/v1/dev/%u/cert/renew",
    "pattern read beacon/v1/dev/%u/cert/issued",
    "pattern read beacon/v1/content/+",
]

FLEET_MANAGER_GRANTS = [
    "topic read beacon/v1/dev/#",
    "topic write beacon/v1/dev/+/cmd/+",
    "topic write beacon/v1/dev/+/cert/issued",
    "topic readwrite beacon/v1/content/#",
    "topic write beacon/v1/resp/+/incident/#",
    "topic read beacon/v1/resp/+/ack/#",
]


def test_fleet_acl_kiosk_patterns_then_one_block_per_fleet_manager() -> None:
    lines = _directives(
        render_fleet_acl(fleet_manager_identities=["fleet-manager-1", "fleet-manager-2"])
    )
    assert lines == [
        *KIOSK_PATTERNS,
        "user fleet-manager-1",
        *FLEET_MANAGER_GRANTS,
        "user fleet-manager-2",
        *FLEET_MANAGER_GRANTS,
    ]


def test_fleet_acl_has_no_anonymous_topic_lines_and_no_resp_patterns() -> None:
    lines = _directives(render_fleet_acl(fleet_manager_identities=["fleet-manager-1"]))
    first_user = next(i for i, line in enumerate(lines) if line.startswith("user "))
    # A topic line before the first user line would apply to anonymous clients.
    assert not any(line.startswith("topic ") for line in lines[:first_user])
    # Nothing grants a kiosk (every client, via patterns) any responder topic.
    assert not any("/resp/" in line for line in lines if line.startswith("pattern "))


def test_fleet_acl_extra_user_grants() -> None:
    text = render_fleet_acl(
        fleet_manager_identities=[],
        extra_user_grants={"bench-publisher": [("write", "beacon/v1/dev/+/alert")]},
    )
    assert _directives(text)[-2:] == ["user bench-publisher", "topic write beacon/v1/dev/+/alert"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fleet_manager_identities": ["Fleet Manager"]}, "fleet manager identity"),
        (
            {"fleet_manager_identities": [], "extra_user_grants": {"b": [("all", "x")]}},
            "ACL access",
        ),
        (
            {"fleet_manager_identities": [], "extra_user_grants": {"b": [("read", "x\nuser y")]}},
            "one line",
        ),
        (
            {"fleet_manager_identities": [], "extra_user_grants": {"a b": [("read", "x")]}},
            "ACL username",
        ),
    ],
)
def test_fleet_acl_rejects_bad_input(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_fleet_acl(**kwargs)  # type: ignore[arg-type]


def test_responder_acl_without_responders_grants_only_the_bridge() -> None:
    assert _directives(render_responder_acl("r1", responders=[])) == [
        "user bridge-r1",
        "topic write beacon/v1/resp/r1/incident/#",
        "topic read beacon/v1/resp/r1/ack/#",
    ]


def test_responder_acl_requires_responders() -> None:
    """No default: a caller cannot fall back to rights for every fleet-CA certificate."""
    with pytest.raises(TypeError, match="responders"):
        render_responder_acl("r1")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        render_responder_acl("r1", responders=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="single string"):
        render_responder_acl("r1", responders="responder-r1-alice")


def test_responder_acl_grants_named_responders_and_has_no_patterns() -> None:
    text = render_responder_acl("r1", responders=["responder-r1-alice", "responder-r1-bo"])
    assert not [line for line in text.splitlines() if line.startswith("pattern")]
    assert _directives(text) == [
        "user responder-r1-alice",
        "topic read beacon/v1/resp/r1/incident/#",
        "topic write beacon/v1/resp/r1/ack/#",
        "user responder-r1-bo",
        "topic read beacon/v1/resp/r1/incident/#",
        "topic write beacon/v1/resp/r1/ack/#",
        "user bridge-r1",
        "topic write beacon/v1/resp/r1/incident/#",
        "topic read beacon/v1/resp/r1/ack/#",
    ]


@pytest.mark.parametrize(
    ("region", "responders", "message"),
    [
        ("r1/#", [], "region"),
        ("r1", ["kiosk-a"], "does not belong to region"),
        ("r1", ["responder-r2-bob"], "does not belong to region"),
        ("r1", ["responder-r1-Alice"], "responder identity"),
    ],
)
def test_responder_acl_rejects_bad_input(region: str, responders: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_responder_acl(region, responders=responders)
