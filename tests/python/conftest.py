"""Shared fixtures for the Python client compatibility suite.

The server under test is located by environment variables:

    RUNNEL_PORT   (required)  port of the server
    RUNNEL_HOST   (optional)  default 127.0.0.1
    RUNNEL_USER   (optional)  default "runnel"
    RUNNEL_DB     (optional)  default "runnel"

Every table or view a test creates is named with a per-run prefix (time + pid)
so that reruns against the same long-lived server never collide, and all of
them are dropped when the test session ends.
"""

import os
import time
from dataclasses import dataclass

import psycopg
import pytest


@dataclass(frozen=True)
class ConnInfo:
    host: str
    port: int
    user: str
    dbname: str

    def psycopg_kwargs(self) -> dict:
        return {"host": self.host, "port": self.port, "user": self.user, "dbname": self.dbname}

    def asyncpg_kwargs(self) -> dict:
        return {"host": self.host, "port": self.port, "user": self.user, "database": self.dbname}

    def sqlalchemy_url(self, driver: str = "psycopg") -> str:
        return f"postgresql+{driver}://{self.user}@{self.host}:{self.port}/{self.dbname}"


def _conninfo_from_env() -> ConnInfo:
    port = os.environ.get("RUNNEL_PORT")
    if not port:
        # Abort the whole run with one clear message rather than erroring every test.
        pytest.exit(
            "RUNNEL_PORT is not set: point the Python client suite at a running Runnel "
            "server, e.g. RUNNEL_PORT=5433 python -m pytest tests/python",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
    try:
        port_number = int(port)
    except ValueError:
        pytest.exit(f"RUNNEL_PORT must be an integer, got {port!r}", returncode=pytest.ExitCode.USAGE_ERROR)
    return ConnInfo(
        host=os.environ.get("RUNNEL_HOST", "127.0.0.1"),
        port=port_number,
        user=os.environ.get("RUNNEL_USER", "runnel"),
        dbname=os.environ.get("RUNNEL_DB", "runnel"),
    )


@pytest.fixture(scope="session")
def conninfo() -> ConnInfo:
    return _conninfo_from_env()


@pytest.fixture(scope="session")
def run_prefix() -> str:
    """A lower-case identifier prefix unique to this test run."""
    return f"pyt_{int(time.time())}_{os.getpid()}_"


class _CreatedObjects:
    """Names of the tables and views created during the run, for final cleanup."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.tables: list[str] = []
        self.views: list[str] = []
        self._test_numbers: dict[str, int] = {}

    def test_number(self, nodeid: str) -> int:
        return self._test_numbers.setdefault(nodeid, len(self._test_numbers) + 1)

    def table(self, suffix: str) -> str:
        name = self.prefix + suffix
        if name not in self.tables:
            self.tables.append(name)
        return name

    def view(self, suffix: str) -> str:
        name = self.prefix + suffix
        if name not in self.views:
            self.views.append(name)
        return name


@pytest.fixture(scope="session")
def created(conninfo, run_prefix):
    """Registry of created objects; drops them all (views first) after the run."""
    registry = _CreatedObjects(run_prefix)
    yield registry
    if not (registry.tables or registry.views):
        return
    statements = [f"DROP VIEW IF EXISTS {view}" for view in reversed(registry.views)]
    statements += [f"DROP TABLE IF EXISTS {table}" for table in reversed(registry.tables)]
    failures = []
    with psycopg.connect(**conninfo.psycopg_kwargs(), autocommit=True) as conn:
        for statement in statements:
            try:
                conn.execute(statement)
            except psycopg.Error as error:  # keep dropping the rest, report at the end
                failures.append(f"{statement}: {error}")
    if failures:
        pytest.fail("cleanup failed:\n" + "\n".join(failures), pytrace=False)


def _object_namer(created, request, kind):
    # Names stay short (PostgreSQL truncates identifiers at 63 bytes): the run
    # prefix, a per-test number and the caller's suffix, e.g. pyt_1716200000_4242_7_t.
    number = created.test_number(request.node.nodeid)

    def make(suffix: str) -> str:
        return getattr(created, kind)(f"{number}_{suffix}")

    return make


@pytest.fixture
def table_name(created, request):
    """Factory giving a fresh table name for the current test: table_name("t")."""
    return _object_namer(created, request, "table")


@pytest.fixture
def view_name(created, request):
    """Factory giving a fresh view name for the current test: view_name("v")."""
    return _object_namer(created, request, "view")


@pytest.fixture
def conn(conninfo):
    """A psycopg 3 connection in autocommit mode."""
    with psycopg.connect(**conninfo.psycopg_kwargs(), autocommit=True) as connection:
        yield connection
