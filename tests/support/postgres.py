"""PostgreSQL for store tests: the local server, one throwaway database per use.

`make test` sets BEACON_TEST_PG_URL (scripts/test-postgres-url) where the server needs a
password; otherwise trust login as ``postgres`` on 127.0.0.1 is used.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from fleet_manager.store.schema import metadata

PG_HOST = "127.0.0.1"
PG_PORT = "5432"
PG_SERVER = os.environ.get(
    "BEACON_TEST_PG_URL", f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}"
).rstrip("/")


def _pg_isready() -> bool:
    result = subprocess.run(
        ["pg_isready", "-q", "-h", PG_HOST, "-p", PG_PORT], check=False, capture_output=True
    )
    return result.returncode == 0


def ensure_postgres() -> None:
    """Make sure the local PostgreSQL server answers, starting an installed cluster if needed."""
    if shutil.which("pg_isready") is None:
        return  # no client tools: the connection attempt says what is wrong
    if _pg_isready():
        return
    clusters = Path("/etc/postgresql")
    if shutil.which("pg_ctlcluster") is None or not clusters.is_dir():
        pytest.fail(
            f"PostgreSQL is not running on {PG_HOST}:{PG_PORT} and no local cluster is installed;"
            " the store tests need it (Debian: apt-get install postgresql)",
            pytrace=False,
        )
    problems = []
    for version in sorted(p.name for p in clusters.iterdir()):
        started = subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            check=False,
            capture_output=True,
            text=True,
        )
        if started.returncode != 0:
            problems.append(f"pg_ctlcluster {version} main start: {started.stderr.strip()}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _pg_isready():
            return
        time.sleep(0.5)
    pytest.fail(
        f"PostgreSQL on {PG_HOST}:{PG_PORT} did not come up after starting it"
        + (f" ({'; '.join(problems)})" if problems else ""),
        pytrace=False,
    )


@contextmanager
def temporary_database(prefix: str) -> Iterator[str]:
    """A new, empty database's URL, dropped afterwards."""
    ensure_postgres()
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    admin = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(
            f"cannot create a test database on PostgreSQL at {PG_HOST}:{PG_PORT} as user"
            f" postgres: {exc.orig}",
            pytrace=False,
        )
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def empty_tables(engine: sa.Engine) -> None:
    """Delete every row, children first, so each test starts from empty tables."""
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
