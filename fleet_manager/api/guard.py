"""The one way a JSON route asks "may this caller do that, there?".

Every ``/api/v1`` route takes the caller with ``who: Principal | None = guard.caller`` and then
asks :meth:`Guard.refuse` (fleet-wide actions) or :meth:`Guard.refuse_in` (an action on one
facility's or region's resource) before touching anything. The answers follow one rule:

- nobody (no token, no session, or a session change without its CSRF token) → 401;
- no role of the caller permits the action anywhere → 403;
- the caller may do it somewhere, but not on *this* resource → 404, exactly as for an id that
  does not exist, so a facility admin of clinic A cannot learn that clinic B's kiosk exists;
  a fleet-wide action has no id to hide → 403 (``policy.refusal_status`` is the rule).

Lists use :meth:`Guard.scope` and filter in the query. The rules themselves are in
:mod:`fleet_manager.accounts.policy`; this module only turns decisions into responses.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from fleet_manager.accounts.policy import (
    Action,
    Principal,
    QueryScope,
    Resource,
    query_scope,
    refusal_status,
)
from fleet_manager.api.auth import Authenticator
from protocol.enrolment import Refusal
from transport.log import get_logger

log = get_logger("fleet_manager.api")


def refusal(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse(
        status_code=status, content=Refusal(error=error, message=message).model_dump()
    )


def not_found(what: str) -> JSONResponse:
    return refusal(404, "not_found", f"no such {what}")


class Guard:
    def __init__(self, auth: Authenticator) -> None:
        self.auth = auth
        self.engine = auth.engine
        self.counters = auth.counters
        self.clock = auth.clock
        self.caller: Any = Depends(self._principal)

    def _principal(self, request: Request) -> Principal | None:
        found = self.auth.caller(request)
        return None if found is None else found.principal

    def unauthenticated(self) -> JSONResponse:
        self.counters.inc("api_unauthenticated")
        return refusal(
            401, "unauthenticated", "log in (and send the CSRF token) or give an API token"
        )

    def refuse(self, who: Principal | None, action: Action) -> JSONResponse | None:
        """None if ``who`` may take ``action`` fleet-wide; else the 401/403 to answer."""
        return self._refuse(who, action, None, "resource")

    def refuse_in(
        self, who: Principal | None, action: Action, resource: Resource, what: str = "resource"
    ) -> JSONResponse | None:
        """None if ``who`` may take ``action`` on ``resource``; else 401, 403 or 404."""
        return self._refuse(who, action, resource, what)

    def _refuse(
        self, who: Principal | None, action: Action, resource: Resource | None, what: str
    ) -> JSONResponse | None:
        if who is None:
            return self.unauthenticated()
        status = refusal_status(who, action, resource)
        if status is None:
            return None
        self.counters.inc("api_forbidden")
        log.warning("api_forbidden", who=who.label, action=action, status=status)
        if status == 403:
            return refusal(403, "forbidden", "your roles do not allow that")
        return not_found(what)

    def refuse_anywhere(self, who: Principal | None, action: Action) -> JSONResponse | None:
        """For lists: None if ``who`` may take ``action`` somewhere (the query then filters
        with :meth:`scope`); else 401 or 403."""
        if who is None:
            return self.unauthenticated()
        if self.scope(who, action).is_empty():
            self.counters.inc("api_forbidden")
            log.warning("api_forbidden", who=who.label, action=action, reason="no scope")
            return refusal(403, "forbidden", "your roles do not allow that")
        return None

    @staticmethod
    def scope(who: Principal, action: Action) -> QueryScope:
        return query_scope(who, action)
