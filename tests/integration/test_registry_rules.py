"""The registry's pure rules, table by table: ids and names, durations, and token status.

No database here: these sit beside the registry's database tests (test_registry.py).
"""

from __future__ import annotations

import pytest

from fleet_manager.store.registry import (
    DAY,
    LOCATION_KINDS,
    TokenRecord,
    TokenStatus,
    facility_problems,
    location_problems,
    new_location_token,
    parse_duration,
    token_status,
)

T = 1_700_000_000.0

# -- token status -----------------------------------------------------------------------------

ACTIVE = TokenRecord("tok-a", "loc-1", created_at=T)
RETIRED_WITH_GRACE = TokenRecord("tok-r", "loc-1", T - 100, retired_at=T, valid_until=T + 30 * DAY)
RETIRED_NO_GRACE = TokenRecord("tok-0", "loc-1", T - 100, retired_at=T, valid_until=T)
RETIRED_WITHOUT_END = TokenRecord("tok-n", "loc-1", T - 100, retired_at=T, valid_until=None)


@pytest.mark.parametrize(
    ("record", "now", "expected"),
    [
        pytest.param(None, T, "unknown", id="unknown"),
        pytest.param(ACTIVE, T, "active", id="active"),
        pytest.param(ACTIVE, T + 3650 * DAY, "active", id="active-never-ends"),
        pytest.param(ACTIVE, T - 60, "active", id="active-clock-behind-creation"),
        pytest.param(RETIRED_WITH_GRACE, T - 1, "active", id="before-retirement"),
        pytest.param(RETIRED_WITH_GRACE, T, "grace", id="retired-now"),
        pytest.param(RETIRED_WITH_GRACE, T + 30 * DAY - 0.001, "grace", id="last-moment"),
        pytest.param(RETIRED_WITH_GRACE, T + 30 * DAY, "expired", id="grace-end-exclusive"),
        pytest.param(RETIRED_WITH_GRACE, T + 31 * DAY, "expired", id="after-grace"),
        pytest.param(RETIRED_NO_GRACE, T, "expired", id="no-grace"),
        pytest.param(RETIRED_WITHOUT_END, T + 1, "expired", id="retired-without-end"),
    ],
)
def test_token_status(record: TokenRecord | None, now: float, expected: TokenStatus) -> None:
    assert token_status(record, now) == expected


def test_new_tokens_are_opaque_and_distinct() -> None:
    tokens = {new_location_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert len(token) == 22
        assert token.replace("-", "").replace("_", "").isalnum()


# -- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30d", 30 * DAY),
        ("12h", 12 * 3600),
        ("90m", 5400),
        ("45s", 45),
        ("2w", 14 * DAY),
        ("0", 0),
        ("0d", 0),
        ("1.5d", 1.5 * DAY),
        (" 7D ", 7 * DAY),
        ("3600", 3600),
        ("3650d", 3650 * DAY),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a number with a unit"),
        ("d", "not a number with a unit"),
        ("-1d", "not a number with a unit"),
        ("30 days", "not a number with a unit"),
        ("1y", "not a number with a unit"),
        ("inf", "not a number with a unit"),
        ("3651d", "longer than 3650 days"),
    ],
)
def test_parse_duration_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


# -- facilities and locations -----------------------------------------------------------------

GOOD_ID = "fac-st-mary"


@pytest.mark.parametrize(
    ("facility_id", "name", "region", "problems"),
    [
        pytest.param(GOOD_ID, "St Mary's Hospital", "north", [], id="ok"),
        pytest.param("f", "Ünïcode Klinik – Nord", "r_1", [], id="ok-short-unicode"),
        pytest.param(
            "St-Mary", "X", "north", ["facility id 'St-Mary' is not a valid id"], id="upper-id"
        ),
        pytest.param("fac/1", "X", "north", ["facility id 'fac/1'"], id="slash-id"),
        pytest.param("-fac", "X", "north", ["facility id '-fac'"], id="leading-dash"),
        pytest.param("f" * 64, "X", "north", ["facility id 'fff"], id="id-too-long"),
        pytest.param(GOOD_ID, "", "north", ["facility name must not be empty"], id="no-name"),
        pytest.param(GOOD_ID, "   ", "north", ["facility name must not be empty"], id="blank"),
        pytest.param(GOOD_ID, " X", "north", ["must not start or end with spaces"], id="spaces"),
        pytest.param(GOOD_ID, "A\nB", "north", ["control characters"], id="newline"),
        pytest.param(GOOD_ID, "x" * 201, "north", ["at most 200 characters"], id="long-name"),
        pytest.param(GOOD_ID, "X", "North", ["region 'North' is not a valid id"], id="region"),
        pytest.param(GOOD_ID, "X", "north/#", ["region 'north/#'"], id="region-wildcard"),
        pytest.param(
            "A", "", "#", ["facility id 'A'", "facility name", "region '#'"], id="all-three"
        ),
    ],
)
def test_facility_problems(facility_id: str, name: str, region: str, problems: list[str]) -> None:
    found = facility_problems(facility_id, name, region)
    assert len(found) == len(problems), found
    for got, expected in zip(found, problems, strict=True):
        assert expected in got


@pytest.mark.parametrize(
    ("args", "problems"),
    [
        pytest.param(("loc-1", GOOD_ID, "Waiting room 1", "waiting_room", None, None), [], id="ok"),
        pytest.param(("loc-1", GOOD_ID, "Room", "other", "B1", "204a"), [], id="ok-floor-room"),
        *(
            pytest.param(("loc-1", GOOD_ID, "Room", kind, None, None), [], id=f"kind-{kind}")
            for kind in LOCATION_KINDS
        ),
        pytest.param(
            ("loc-1", GOOD_ID, "Room", "kitchen", None, None),
            [
                "location kind 'kitchen' must be one of waiting_room, bathroom, exam_room, other",
            ],
            id="bad-kind",
        ),
        pytest.param(
            ("loc-1", GOOD_ID, "Room", "Bathroom", None, None), ["kind 'Bathroom'"], id="kind-case"
        ),
        pytest.param(("Loc 1", GOOD_ID, "Room", "other", None, None), ["location id"], id="id"),
        pytest.param(("loc-1", "FAC", "Room", "other", None, None), ["facility id"], id="fac-id"),
        pytest.param(("loc-1", GOOD_ID, "", "other", None, None), ["location name"], id="no-name"),
        pytest.param(("loc-1", GOOD_ID, "Room", "other", "", None), ["floor must not"], id="floor"),
        pytest.param(("loc-1", GOOD_ID, "R", "other", "1" * 33, None), ["at most 32"], id="floor+"),
        pytest.param(("loc-1", GOOD_ID, "Room", "other", None, " 1"), ["room '"], id="room"),
        pytest.param(("loc-1", GOOD_ID, "R", "other", None, "1" * 65), ["at most 64"], id="room+"),
        pytest.param(
            ("L", "F", "", "x", "", ""),
            ["location id", "facility id", "location name", "kind", "floor", "room"],
            id="everything",
        ),
    ],
)
def test_location_problems(
    args: tuple[str, str, str, str, str | None, str | None], problems: list[str]
) -> None:
    found = location_problems(*args)
    assert len(found) == len(problems), found
    for got, expected in zip(found, problems, strict=True):
        assert expected in got
