"""protocol.topics: every builder, the parser's round trip, and what the parser refuses."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from protocol import topics
from protocol.errors import ProtocolError, TopicError
from protocol.topics import ParsedTopic, TopicKind, parse_topic

BUILDERS: list[tuple[str, Callable[[], str], str]] = [
    ("status", lambda: topics.device_status("kiosk-a1"), "beacon/v1/dev/kiosk-a1/status"),
    (
        "telemetry",
        lambda: topics.device_telemetry("kiosk-a1"),
        "beacon/v1/dev/kiosk-a1/telemetry",
    ),
    ("alert", lambda: topics.device_alert("kiosk-a1"), "beacon/v1/dev/kiosk-a1/alert"),
    ("event", lambda: topics.device_event("kiosk-a1"), "beacon/v1/dev/kiosk-a1/event"),
    (
        "command",
        lambda: topics.device_command("kiosk-a1", "c0ffee"),
        "beacon/v1/dev/kiosk-a1/cmd/c0ffee",
    ),
    (
        "command-result",
        lambda: topics.device_command_result("kiosk-a1", "c0ffee"),
        "beacon/v1/dev/kiosk-a1/cmd/c0ffee/result",
    ),
    (
        "commands-filter",
        lambda: topics.device_commands_filter("kiosk-a1"),
        "beacon/v1/dev/kiosk-a1/cmd/+",
    ),
    ("content", lambda: topics.content_channel("stable"), "beacon/v1/content/stable"),
    (
        "incident",
        lambda: topics.responder_incident("north", "inc-0123abcd"),
        "beacon/v1/resp/north/incident/inc-0123abcd",
    ),
    (
        "incidents-filter",
        lambda: topics.responder_incidents_filter("north"),
        "beacon/v1/resp/north/incident/#",
    ),
    (
        "ack",
        lambda: topics.responder_ack("north", "inc-0123abcd"),
        "beacon/v1/resp/north/ack/inc-0123abcd",
    ),
    (
        "acks-filter",
        lambda: topics.responder_acks_filter("north"),
        "beacon/v1/resp/north/ack/#",
    ),
    (
        "shared-default-group",
        lambda: topics.shared("beacon/v1/dev/+/alert"),
        "$share/fleet/beacon/v1/dev/+/alert",
    ),
    (
        "shared-other-group",
        lambda: topics.shared("beacon/v1/dev/+/alert", group="night"),
        "$share/night/beacon/v1/dev/+/alert",
    ),
]


@pytest.mark.parametrize(
    ("build", "expected"),
    [pytest.param(build, expected, id=name) for name, build, expected in BUILDERS],
)
def test_builder(build: Callable[[], str], expected: str) -> None:
    assert build() == expected


def test_fleet_ingest_filters_are_exactly_the_consumed_topics() -> None:
    assert topics.FLEET_INGEST_FILTERS == (
        "beacon/v1/dev/+/status",
        "beacon/v1/dev/+/telemetry",
        "beacon/v1/dev/+/alert",
        "beacon/v1/dev/+/event",
        "beacon/v1/dev/+/cmd/+/result",
        "beacon/v1/dev/+/cert/renew",
    )
    assert topics.FLEET_ACK_FILTER == "beacon/v1/resp/+/ack/+"


BAD_SEGMENTS = [
    pytest.param("", id="empty"),
    pytest.param("Kiosk-A", id="upper-case"),
    pytest.param("+", id="plus-wildcard"),
    pytest.param("#", id="hash-wildcard"),
    pytest.param("kiosk/a", id="level-separator"),
    pytest.param("-kiosk", id="leading-dash"),
    pytest.param("kiosk-a\n", id="trailing-newline"),
    pytest.param("k" * 64, id="64-chars"),
    pytest.param("kiosk a", id="space"),
]


@pytest.mark.parametrize("bad", BAD_SEGMENTS)
@pytest.mark.parametrize(
    "build",
    [
        pytest.param(topics.device_status, id="status"),
        pytest.param(topics.device_telemetry, id="telemetry"),
        pytest.param(topics.device_alert, id="alert"),
        pytest.param(topics.device_event, id="event"),
        pytest.param(lambda v: topics.device_command(v, "c1"), id="command-device"),
        pytest.param(lambda v: topics.device_command("kiosk-a", v), id="command-cid"),
        pytest.param(lambda v: topics.device_command_result("kiosk-a", v), id="result-cid"),
        pytest.param(topics.device_commands_filter, id="commands-filter"),
        pytest.param(topics.content_channel, id="content"),
        pytest.param(lambda v: topics.responder_incident(v, "inc-1"), id="incident-region"),
        pytest.param(lambda v: topics.responder_incident("north", v), id="incident-id"),
        pytest.param(topics.responder_incidents_filter, id="incidents-filter"),
        pytest.param(lambda v: topics.responder_ack(v, "inc-1"), id="ack-region"),
        pytest.param(lambda v: topics.responder_ack("north", v), id="ack-incident"),
        pytest.param(topics.responder_acks_filter, id="acks-filter"),
    ],
)
def test_builder_refuses_invalid_segment(build: Callable[[str], str], bad: str) -> None:
    with pytest.raises(TopicError, match="for a topic segment"):
        build(bad)


def test_longest_valid_segment_is_accepted() -> None:
    longest = "k" * 63
    assert topics.device_status(longest) == f"beacon/v1/dev/{longest}/status"


ROUND_TRIPS = [
    pytest.param(
        topics.device_status("kiosk-a1"),
        ParsedTopic(TopicKind.STATUS, device_id="kiosk-a1"),
        id="status",
    ),
    pytest.param(
        topics.device_telemetry("kiosk-a1"),
        ParsedTopic(TopicKind.TELEMETRY, device_id="kiosk-a1"),
        id="telemetry",
    ),
    pytest.param(
        topics.device_alert("kiosk-a1"),
        ParsedTopic(TopicKind.ALERT, device_id="kiosk-a1"),
        id="alert",
    ),
    pytest.param(
        topics.device_event("kiosk-a1"),
        ParsedTopic(TopicKind.EVENT, device_id="kiosk-a1"),
        id="event",
    ),
    pytest.param(
        topics.device_command("kiosk-a1", "c0ffee"),
        ParsedTopic(TopicKind.COMMAND, device_id="kiosk-a1", cid="c0ffee"),
        id="command",
    ),
    pytest.param(
        topics.device_command_result("kiosk-a1", "c0ffee"),
        ParsedTopic(TopicKind.COMMAND_RESULT, device_id="kiosk-a1", cid="c0ffee"),
        id="command-result",
    ),
    pytest.param(
        topics.device_cert_renew("kiosk-a1"),
        ParsedTopic(TopicKind.CERT_RENEW, device_id="kiosk-a1"),
        id="cert-renew",
    ),
    pytest.param(
        topics.device_cert_issued("kiosk-a1"),
        ParsedTopic(TopicKind.CERT_ISSUED, device_id="kiosk-a1"),
        id="cert-issued",
    ),
    pytest.param(
        topics.content_channel("beta_2"),
        ParsedTopic(TopicKind.CONTENT, channel="beta_2"),
        id="content",
    ),
    pytest.param(
        topics.responder_incident("north", "inc-0123abcd"),
        ParsedTopic(TopicKind.INCIDENT, region="north", incident_id="inc-0123abcd"),
        id="incident",
    ),
    pytest.param(
        topics.responder_ack("north", "inc-0123abcd"),
        ParsedTopic(TopicKind.ACK, region="north", incident_id="inc-0123abcd"),
        id="ack",
    ),
]


@pytest.mark.parametrize(("topic", "expected"), ROUND_TRIPS)
def test_parse_round_trip(topic: str, expected: ParsedTopic) -> None:
    assert parse_topic(topic) == expected


def test_round_trip_covers_every_topic_kind() -> None:
    kinds = {parse_topic(str(param.values[0])).kind for param in ROUND_TRIPS}
    assert kinds == set(TopicKind)


REJECTED = [
    pytest.param("", "outside beacon/v1/", id="empty-topic"),
    pytest.param("beacon/v2/dev/kiosk-a/status", "outside beacon/v1/", id="wrong-version"),
    pytest.param("other/v1/dev/kiosk-a/status", "outside beacon/v1/", id="wrong-root"),
    pytest.param("Beacon/v1/dev/kiosk-a/status", "outside beacon/v1/", id="root-upper-case"),
    pytest.param("beacon/v1", "outside beacon/v1/", id="root-only"),
    pytest.param("beacon/v1dev/kiosk-a/status", "outside beacon/v1/", id="root-without-slash"),
    pytest.param("/beacon/v1/dev/kiosk-a/status", "outside beacon/v1/", id="leading-slash"),
    pytest.param(
        "$share/fleet/beacon/v1/dev/kiosk-a/status", "outside beacon/v1/", id="shared-prefix"
    ),
    pytest.param("beacon/v1/dev/+/status", "invalid segment '\\+'", id="plus-device"),
    pytest.param("beacon/v1/dev/kiosk-a/+", "invalid segment '\\+'", id="plus-leaf"),
    pytest.param("beacon/v1/resp/north/ack/#", "invalid segment '#'", id="hash-incident"),
    pytest.param("beacon/v1/#", "invalid segment '#'", id="hash-all"),
    pytest.param("beacon/v1/dev//status", "invalid segment ''", id="empty-device"),
    pytest.param("beacon/v1/dev/kiosk-a/status/", "invalid segment ''", id="trailing-slash"),
    pytest.param("beacon/v1/", "invalid segment ''", id="root-trailing-slash"),
    pytest.param("beacon/v1/dev/Kiosk-A/status", "invalid segment 'Kiosk-A'", id="upper-device"),
    pytest.param("beacon/v1/dev/kiosk-a/STATUS", "invalid segment 'STATUS'", id="upper-leaf"),
    pytest.param("beacon/v1/DEV/kiosk-a/status", "invalid segment 'DEV'", id="upper-level"),
    pytest.param(
        "beacon/v1/dev/kiosk-a/status\n", "invalid segment 'status\\\\n'", id="trailing-newline"
    ),
    pytest.param(
        "beacon/v1/dev/kiosk-a/status/extra", "not part of the v1 contract", id="extra-level"
    ),
    pytest.param(
        "beacon/v1/dev/kiosk-a/cmd/c1/result/x", "not part of the v1 contract", id="extra-result"
    ),
    pytest.param("beacon/v1/content/stable/x", "not part of the v1 contract", id="extra-content"),
    pytest.param(
        "beacon/v1/resp/north/incident/inc-1/x", "not part of the v1 contract", id="extra-incident"
    ),
    pytest.param("beacon/v1/dev/kiosk-a/secrets", "not part of the v1 contract", id="unknown-leaf"),
    pytest.param(
        "beacon/v1/dev/kiosk-a/cmd/c1/answer", "not part of the v1 contract", id="unknown-cmd-leaf"
    ),
    pytest.param("beacon/v1/resp/north/chat/inc-1", "not part of the v1 contract", id="resp-leaf"),
    pytest.param("beacon/v1/dev/kiosk-a", "not part of the v1 contract", id="missing-leaf"),
    pytest.param("beacon/v1/dev/kiosk-a/cmd", "not part of the v1 contract", id="cmd-without-id"),
    pytest.param("beacon/v1/content", "not part of the v1 contract", id="content-no-channel"),
    pytest.param(
        "beacon/v1/admin/kiosk-a/status", "not part of the v1 contract", id="unknown-area"
    ),
]


@pytest.mark.parametrize(("topic", "message"), REJECTED)
def test_parse_rejects(topic: str, message: str) -> None:
    with pytest.raises(TopicError, match=message):
        parse_topic(topic)


def test_topic_error_is_a_protocol_error() -> None:
    assert issubclass(TopicError, ProtocolError)
