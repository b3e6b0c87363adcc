"""``/api/v1/tokens``: API tokens for automation, managed by people (tokens.manage: ops).

    GET    /api/v1/tokens[?all=true]       list (never a secret; revoked ones with all=true)
    POST   /api/v1/tokens                  {name, grants:[{role, facility_id?, region?}],
                                            ttl_s?, owner?} → 201 with the secret, shown once
    DELETE /api/v1/tokens/{token_id}       revoke (at once)

Only a user may do this: the access policy refuses ``tokens.manage`` to every API token, even
one with ``ops``, so a leaked token cannot mint itself successors (403). A new token's grants
must lie within its creator's, must name a facility or region that exists, and are checked by
the same rules as a user's. Creation and revocation are audited by the token store.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from fleet_manager.accounts import token_store
from fleet_manager.accounts.policy import Grant, GrantError, Principal, Role
from fleet_manager.accounts.store import AccountError
from fleet_manager.api.context import AppContext
from fleet_manager.api.engagement_routes import ID_PATTERN
from fleet_manager.api.guard import not_found, refusal
from fleet_manager.store.schema import facilities
from protocol.enrolment import Refusal
from transport.log import get_logger

log = get_logger("fleet_manager.api")

PATH = "/api/v1/tokens"
MAX_TTL_S = 3650 * 86400.0
MAX_GRANTS = 50
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"  # no control characters (PostgreSQL refuses NUL)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class GrantModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    role: Role
    facility_id: str | None = Field(default=None, max_length=64, pattern=ID_PATTERN)
    region: str | None = Field(default=None, max_length=64, pattern=ID_PATTERN)


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=token_store.NAME_MAX, pattern=PRINTABLE)
    grants: list[GrantModel] = Field(min_length=1, max_length=MAX_GRANTS)
    ttl_s: float | None = Field(default=None, gt=0, le=MAX_TTL_S, description="seconds")
    owner: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=PRINTABLE,
        description="a user the token acts for: it never holds more than they still do",
    )


class TokenOut(BaseModel):
    token_id: str
    display_prefix: str
    name: str
    owner: str | None
    grants: list[GrantModel]
    created_by: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None


class TokenCreated(TokenOut):
    secret: str = Field(description="shown once: only its hash is kept")


class TokenRevoked(BaseModel):
    token_id: str
    already: bool = Field(description="it had been revoked before this request")
    revoked_at: float


REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"model": Refusal},
    401: {"model": Refusal},
    403: {"model": Refusal, "description": "not a user with tokens.manage (tokens never are)"},
}


def token_out(t: token_store.ApiToken) -> TokenOut:
    return TokenOut(
        token_id=t.token_id,
        display_prefix=t.display_prefix,
        name=t.name,
        owner=t.owner,
        grants=[
            GrantModel(role=g.role, facility_id=g.facility_id, region=g.region) for g in t.grants
        ],
        created_by=t.created_by,
        created_at=t.created_at,
        expires_at=t.expires_at,
        revoked_at=t.revoked_at,
        last_used_at=t.last_used_at,
    )


def unknown_scopes(conn: sa.Connection, grants: list[Grant]) -> list[str]:
    """The facilities and regions the grants name that the registry does not know."""
    known = conn.execute(sa.select(facilities.c.facility_id, facilities.c.region)).all()
    ids = {f for f, _ in known}
    regions = {r for _, r in known}
    missing = [
        f"facility {g.facility_id}" for g in grants if g.facility_id and g.facility_id not in ids
    ]
    missing += [f"region {g.region}" for g in grants if g.region and g.region not in regions]
    return missing


def create_token(
    ctx: AppContext,
    who: Principal,
    name: str,
    wanted: list[tuple[str, str | None, str | None]],
    ttl_s: float | None,
    owner: str | None,
) -> tuple[str, token_store.ApiToken] | str:
    """Make a token for ``who`` (API and console alike): its secret and record, or why not."""
    texts = [name, owner or "", *(f or "" for _, f, _ in wanted), *(r or "" for _, _, r in wanted)]
    if any(CONTROL.search(t) for t in texts):
        return "names and ids must not contain control characters"
    try:
        grants = [Grant(role, facility, region) for role, facility, region in wanted]  # type: ignore[arg-type]
    except GrantError as exc:
        return str(exc).replace("--facility F", "a facility").replace("--region R", "a region")
    now = ctx.now()
    try:
        with ctx.engine.begin() as conn:
            missing = unknown_scopes(conn, grants)
            if missing:
                return f"no such {', '.join(missing)}"
            secret, token = token_store.create_api_token(
                conn,
                name.strip(),
                grants,
                creator=who,
                owner=owner,
                actor=who.label,
                now=now,
                expires_at=None if ttl_s is None else now + ttl_s,
            )
    except AccountError as exc:
        return str(exc)
    ctx.counters.inc("api_tokens_created")
    log.info("api_token_created", who=who.label, token_id=token.token_id)
    return secret, token


def revoke_token(
    ctx: AppContext, who: Principal, token_id: str
) -> tuple[token_store.ApiToken, bool] | None:
    """Revoke (API and console alike): the token afterwards and whether this request revoked
    it (False: it was already); None if there is no such token."""
    with ctx.engine.begin() as conn:
        if token_store.get_api_token(conn, token_id) is None:
            return None
        changed = token_store.revoke_api_token(conn, token_id, actor=who.label, now=ctx.now())
        token = token_store.get_api_token(conn, token_id)
    assert token is not None
    if changed:
        ctx.counters.inc("api_tokens_revoked")
        log.info("api_token_revoked", who=who.label, token_id=token_id)
    return token, changed


def router(ctx: AppContext) -> APIRouter:
    api = APIRouter(tags=["tokens"])
    guard = ctx.guard

    @api.get(PATH, response_model=list[TokenOut], responses=REFUSALS)
    def list_tokens(
        all: Annotated[bool, Query(description="include revoked tokens")] = False,
        who: Principal | None = guard.caller,
    ) -> Any:
        """API tokens, oldest first; never their secrets."""
        if (refused := guard.refuse(who, "tokens.manage")) is not None:
            return refused
        with ctx.engine.connect() as conn:
            found = token_store.list_api_tokens(conn, include_revoked=all)
        return [token_out(t) for t in found]

    @api.post(
        PATH,
        status_code=201,
        response_model=TokenCreated,
        responses={**REFUSALS, 422: {"model": Refusal, "description": "grants not allowed"}},
    )
    def create(body: TokenCreate, who: Principal | None = guard.caller) -> Any:
        """Make a token; the answer holds its secret, shown this once (only a hash is kept)."""
        if (refused := guard.refuse(who, "tokens.manage")) is not None:
            return refused
        assert who is not None
        made = create_token(
            ctx,
            who,
            body.name,
            [(g.role, g.facility_id, g.region) for g in body.grants],
            body.ttl_s,
            body.owner,
        )
        if isinstance(made, str):
            ctx.counters.inc("api_bad_requests")
            log.warning("api_token_refused", who=who.label, problem=made)
            return refusal(422, "invalid", made)
        secret, token = made
        body_out = TokenCreated(**token_out(token).model_dump(), secret=secret)
        return JSONResponse(status_code=201, content=body_out.model_dump(mode="json"))

    @api.delete(
        PATH + "/{token_id}",
        response_model=TokenRevoked,
        responses={**REFUSALS, 404: {"model": Refusal}},
    )
    def revoke(
        token_id: Annotated[str, Path(min_length=1, max_length=32)],
        who: Principal | None = guard.caller,
    ) -> Any:
        """Revoke a token: it stops working at once."""
        if (refused := guard.refuse(who, "tokens.manage")) is not None:
            return refused
        assert who is not None
        done = revoke_token(ctx, who, token_id)
        if done is None:
            return not_found("API token")
        token, changed = done
        assert token.revoked_at is not None
        return TokenRevoked(
            token_id=token.token_id, already=not changed, revoked_at=token.revoked_at
        )

    return api
