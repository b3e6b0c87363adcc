"""A :class:`~fleet_manager.accounts.policy.QueryScope` as an SQL condition that planners
handle well.

``QueryScope.where`` writes ``facility IN (…) OR region IN (…)`` even when one of the lists is
empty; SQLite then plans a multi-index OR (every matching row id collected, de-duplicated and
sorted) instead of one index range, which made a responder's incident list five times slower
with 100,000 incidents. This gives the same rows, leaving out what is empty.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from fleet_manager.accounts.policy import QueryScope


def scope_condition(scope: QueryScope, facility_column: Any, region_column: Any) -> Any:
    """The rows ``scope`` shows (same rows as ``scope.where``)."""
    if scope.everything:
        return sa.true()
    parts = []
    if scope.facilities:
        parts.append(facility_column.in_(sorted(scope.facilities)))
    if scope.regions:
        parts.append(region_column.in_(sorted(scope.regions)))
    if not parts:
        return sa.false()
    return parts[0] if len(parts) == 1 else sa.or_(*parts)
