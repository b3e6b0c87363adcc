"""API tokens in the fleet store: create (shown once), list, revoke, and verify on each request.

A token's grants are fixed when it is made and must lie within its creator's (an operator at
the CLI is trusted, as for every ``beacon`` command). A token with an owner is also limited,
on every request, to the grants its owner still holds, and stops working when the owner is
disabled: taking a role from a person takes it from their automation too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from fleet_manager.accounts import tokens
from fleet_manager.accounts.policy import Grant, Principal, grant_sort_key, grant_within
from fleet_manager.accounts.store import AccountError, get_user
from fleet_manager.store import audit_log
from fleet_manager.store.schema import api_tokens

NAME_MAX = 200


@dataclass(frozen=True)
class ApiToken:
    token_id: str
    display_prefix: str
    name: str
    owner: str | None
    grants: tuple[Grant, ...]
    created_by: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None


def _to_json(grants: Iterable[Grant]) -> list[dict[str, str | None]]:
    return [{"role": g.role, "facility_id": g.facility_id, "region": g.region} for g in grants]


def _from_json(value: list[dict[str, str | None]]) -> tuple[Grant, ...]:
    return tuple(
        sorted(
            (Grant(d["role"], d["facility_id"], d["region"]) for d in value),  # type: ignore[arg-type]
            key=grant_sort_key,
        )
    )


def _token(row: sa.Row[tuple[object, ...]]) -> ApiToken:
    m = dict(row._mapping)
    del m["token_hash"]
    m["grants"] = _from_json(m["grants"])
    return ApiToken(**m)


def create_api_token(
    conn: sa.Connection,
    name: str,
    grants: Iterable[Grant],
    *,
    creator: Principal | None,
    owner: str | None,
    actor: str,
    now: float,
    expires_at: float | None = None,
) -> tuple[str, ApiToken]:
    """Make a token; returns its secret (show it once, never store it) and its record.

    ``creator`` None means a trusted operator (the CLI); otherwise every grant must lie within
    the creator's grants (:class:`AccountError` if not).
    """
    grants = tuple(dict.fromkeys(grants))
    if not name.strip() or len(name) > NAME_MAX:
        raise AccountError(f"the token needs a name of 1 to {NAME_MAX} characters")
    if not grants:
        raise AccountError("give the token at least one role")
    if creator is not None:
        beyond = [g.describe() for g in grants if not grant_within(g, creator.grants)]
        if beyond:
            raise AccountError(f"you cannot give a token more than you hold: {', '.join(beyond)}")
    if owner is not None:
        owner_user = get_user(conn, owner)
        if owner_user is None:
            raise AccountError(f"no user {owner!r} to own the token")
        beyond = [g.describe() for g in grants if not grant_within(g, owner_user.grants)]
        if beyond:
            raise AccountError(f"user {owner!r} does not hold {', '.join(beyond)}")
    issued = tokens.issue_token()
    token_id = tokens.new_token_id()
    conn.execute(
        api_tokens.insert().values(
            token_id=token_id,
            token_hash=issued.token_hash,
            display_prefix=issued.display_prefix,
            name=name,
            owner=owner,
            grants=_to_json(grants),
            created_by=actor,
            created_at=now,
            expires_at=expires_at,
        )
    )
    audit_log.record(
        conn,
        at=now,
        actor=actor,
        action="api_token.created",
        subject=token_id,
        outcome="ok",
        detail={
            "name": name,
            "owner": owner,
            "grants": [g.describe() for g in grants],
            "expires_at": expires_at,
        },
    )
    return issued.secret, get_api_token(conn, token_id)  # type: ignore[return-value]


def get_api_token(conn: sa.Connection, token_id: str) -> ApiToken | None:
    row = conn.execute(sa.select(api_tokens).where(api_tokens.c.token_id == token_id)).first()
    return None if row is None else _token(row)


def list_api_tokens(conn: sa.Connection, *, include_revoked: bool = False) -> list[ApiToken]:
    query = sa.select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.token_id)
    if not include_revoked:
        query = query.where(api_tokens.c.revoked_at.is_(None))
    return [_token(r) for r in conn.execute(query)]


def revoke_api_token(conn: sa.Connection, token_id: str, *, actor: str, now: float) -> bool:
    """Revoke a token (it stops working at once); False if it was already revoked."""
    token = get_api_token(conn, token_id)
    if token is None:
        raise AccountError(f"no API token {token_id!r} (see `beacon fleet token list`)")
    if token.revoked_at is not None:
        return False
    conn.execute(
        api_tokens.update().where(api_tokens.c.token_id == token_id).values(revoked_at=now)
    )
    audit_log.record(
        conn, at=now, actor=actor, action="api_token.revoked", subject=token_id, outcome="ok"
    )
    return True


def verify_api_token(conn: sa.Connection, secret: str, *, now: float) -> Principal | None:
    """Who a presented token is, or None if it is malformed, unknown, revoked, expired or its
    owner is disabled. Records when it was last used (at most once a minute)."""
    if not tokens.looks_like_token(secret):
        return None
    row = conn.execute(
        sa.select(api_tokens).where(api_tokens.c.token_hash == tokens.hash_token(secret))
    ).first()
    if row is None:
        return None
    token = _token(row)
    if not tokens.token_usable(token.revoked_at, token.expires_at, now):
        return None
    grants = token.grants
    if token.owner is not None:
        owner = get_user(conn, token.owner)
        if owner is None or owner.disabled:
            return None
        grants = tuple(g for g in grants if grant_within(g, owner.grants))
    if tokens.should_record_use(token.last_used_at, now):
        conn.execute(
            api_tokens.update()
            .where(api_tokens.c.token_id == token.token_id)
            .values(last_used_at=now)
        )
    return Principal("token", token.token_id, frozenset(grants))
