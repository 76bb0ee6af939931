"""Real Python Postgres clients against a running Runnel server.

Covers psycopg 3 (text and binary results, client-side %s and server-side $1
parameters, error reporting and recovery), SQLAlchemy 2.x reflection through
the psycopg dialect, and asyncpg (binary protocol, prepared statements).

Run with:  RUNNEL_PORT=5433 python -m pytest tests/python -q
"""

import asyncio
import datetime
import functools
from decimal import Decimal

import asyncpg
import psycopg
import psycopg.errors
import pytest
import sqlalchemy
from psycopg.pq import TransactionStatus
from psycopg.types.json import Json, Jsonb
from sqlalchemy.dialects import postgresql

# ---------------------------------------------------------------------------
# Shared data
# ---------------------------------------------------------------------------

COLUMNS_DDL = "id INT, name TEXT, amount DOUBLE PRECISION, ts TIMESTAMP, flag BOOLEAN, d DATE"
COLUMN_NAMES = ["id", "name", "amount", "ts", "flag", "d"]
SELECT_ALL = "SELECT id, name, amount, ts, flag, d FROM {table}"

ALICE = (1, "alice", 12.5, datetime.datetime(2024, 1, 2, 3, 4, 5, 123456), True, datetime.date(2024, 1, 2))
BOB = (2, "bob ☃ zoë", -0.1, datetime.datetime(1999, 12, 31, 23, 59, 59), False, datetime.date(1999, 12, 31))
NOBODY = (3, None, None, None, None, None)
ROWS = [ALICE, BOB, NOBODY]

ALICE_TYPES = (int, str, float, datetime.datetime, bool, datetime.date)

# Type OIDs from PostgreSQL's pg_type.dat; clients key their decoders on these.
INT4_OID, TEXT_OID, FLOAT8_OID, TIMESTAMP_OID, BOOL_OID, DATE_OID = 23, 25, 701, 1114, 16, 1082
COLUMN_OIDS = [INT4_OID, TEXT_OID, FLOAT8_OID, TIMESTAMP_OID, BOOL_OID, DATE_OID]

TEXT_FORMAT, BINARY_FORMAT = 0, 1


def assert_exact_row(row, expected, expected_types=ALICE_TYPES):
    """Values equal *and* each value has exactly the expected Python type."""
    assert tuple(row) == expected
    assert tuple(type(value) for value in row) == expected_types


# ---------------------------------------------------------------------------
# psycopg 3: typed table, parameters, text and binary results
# ---------------------------------------------------------------------------


@pytest.fixture
def people(conn, table_name):
    """A table with one column per basic type, filled using %s parameters."""
    table = table_name("people")
    conn.execute(f"CREATE TABLE {table} ({COLUMNS_DDL})")
    for row in ROWS:
        cur = conn.execute(f"INSERT INTO {table} (id, name, amount, ts, flag, d) VALUES (%s, %s, %s, %s, %s, %s)", row)
        assert cur.rowcount == 1
    return table


def test_psycopg_binary_select_with_parameter(conn, people):
    cur = conn.cursor(binary=True)
    cur.execute(SELECT_ALL.format(table=people) + " WHERE id = %s", (1,))

    assert [cur.pgresult.fformat(i) for i in range(6)] == [BINARY_FORMAT] * 6
    assert [col.name for col in cur.description] == COLUMN_NAMES
    rows = cur.fetchall()
    assert len(rows) == 1
    assert_exact_row(rows[0], ALICE)


def test_psycopg_text_select_with_parameter(conn, people):
    cur = conn.cursor()
    cur.execute(SELECT_ALL.format(table=people) + " WHERE id = %s", (1,))

    assert [cur.pgresult.fformat(i) for i in range(6)] == [TEXT_FORMAT] * 6
    rows = cur.fetchall()
    assert len(rows) == 1
    assert_exact_row(rows[0], ALICE)


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_psycopg_non_ascii_and_negative_values(conn, people, binary):
    row = conn.execute(SELECT_ALL.format(table=people) + " WHERE id = %s", (2,), binary=binary).fetchone()
    assert_exact_row(row, BOB)


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_psycopg_nulls(conn, people, binary):
    row = conn.execute(SELECT_ALL.format(table=people) + " WHERE id = %s", (3,), binary=binary).fetchone()
    assert row == NOBODY


def test_psycopg_result_column_type_oids(conn, people):
    cur = conn.execute(SELECT_ALL.format(table=people) + " WHERE id = %s", (1,))
    assert [col.type_code for col in cur.description] == COLUMN_OIDS


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_psycopg_select_all_ordered(conn, people, binary):
    rows = conn.execute(SELECT_ALL.format(table=people) + " ORDER BY id", binary=binary).fetchall()
    assert rows == ROWS


@pytest.mark.parametrize("placeholder", ["%t", "%b"], ids=["text_params", "binary_params"])
def test_psycopg_insert_with_forced_parameter_format(conn, table_name, placeholder):
    """%t sends every parameter in text format, %b every one in binary format."""
    table = table_name("t")
    conn.execute(f"CREATE TABLE {table} ({COLUMNS_DDL})")
    placeholders = ", ".join([placeholder] * 6)
    conn.execute(f"INSERT INTO {table} VALUES ({placeholders})", ALICE)

    row = conn.execute(SELECT_ALL.format(table=table) + f" WHERE id = {placeholder}", (1,)).fetchone()
    assert_exact_row(row, ALICE)


def test_psycopg_raw_cursor_server_side_dollar_parameters(conn, people):
    """RawCursor passes $1-style placeholders straight to the server."""
    with psycopg.RawCursor(conn) as cur:
        cur.execute(
            f"SELECT id, name FROM {people} WHERE id = $1 AND name = $2",
            (2, "bob ☃ zoë"),
            binary=True,
        )
        assert cur.fetchall() == [(2, "bob ☃ zoë")]


def test_psycopg_named_prepared_statement_is_reused(conn, people):
    query = f"SELECT name FROM {people} WHERE id = %s"
    # prepare=True makes psycopg Parse a named statement once and Bind it repeatedly.
    assert conn.execute(query, (1,), prepare=True).fetchone() == ("alice",)
    assert conn.execute(query, (2,), prepare=True).fetchone() == ("bob ☃ zoë",)
    assert conn.execute(query, (99,), prepare=True).fetchone() is None


def test_psycopg_executemany(conn, table_name):
    table = table_name("t")
    conn.execute(f"CREATE TABLE {table} ({COLUMNS_DDL})")
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, %s)", ROWS)

    assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (3,)
    assert conn.execute(SELECT_ALL.format(table=table) + " ORDER BY id").fetchall() == ROWS


def test_psycopg_command_status_and_rowcount(conn, table_name):
    table = table_name("t")
    cur = conn.cursor()

    cur.execute(f"CREATE TABLE {table} (id INT, name TEXT)")
    assert cur.statusmessage == "CREATE TABLE"

    cur.execute(f"INSERT INTO {table} VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    assert (cur.statusmessage, cur.rowcount) == ("INSERT 0 3", 3)

    # UPDATE and DELETE are not supported yet (docs/sql.md): a clear 0A000, nothing changes.
    with pytest.raises(psycopg.errors.FeatureNotSupported):
        cur.execute(f"UPDATE {table} SET name = %s WHERE id >= %s", ("z", 2))
    with pytest.raises(psycopg.errors.FeatureNotSupported):
        cur.execute(f"DELETE FROM {table} WHERE id = %s", (1,))

    cur.execute(f"SELECT id, name FROM {table} ORDER BY id")
    assert (cur.statusmessage, cur.rowcount) == ("SELECT 3", 3)
    assert cur.fetchall() == [(1, "a"), (2, "b"), (3, "c")]


# --- one test per extra type, so a failure pinpoints the type ---------------


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_psycopg_numeric(conn, binary):
    row = conn.execute(
        "SELECT CAST(1.5 AS NUMERIC(10,2)), CAST(-12345678901234567890.125 AS NUMERIC(30,3))",
        binary=binary,
    ).fetchone()

    assert [type(v) for v in row] == [Decimal, Decimal]
    # Compare the string form too: Decimal('1.5') == Decimal('1.50'), but the scale matters.
    assert [str(v) for v in row] == ["1.50", "-12345678901234567890.125"]


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_psycopg_numeric_parameter_roundtrip(conn, table_name, binary):
    table = table_name("t")
    conn.execute(f"CREATE TABLE {table} (id INT, price NUMERIC(12,4))")
    conn.execute(f"INSERT INTO {table} VALUES (%s, %s)", (1, Decimal("3.1416")))

    row = conn.execute(f"SELECT price FROM {table} WHERE id = %s", (1,), binary=binary).fetchone()
    assert type(row[0]) is Decimal
    assert str(row[0]) == "3.1416"


BYTES = b"\x00\x01\x7f\x80\xfe\xff runnel \\ '"


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_psycopg_bytea(conn, table_name, binary):
    literal = conn.execute("SELECT CAST('\\x00ff41' AS BYTEA)", binary=binary).fetchone()[0]
    assert (type(literal), literal) == (bytes, b"\x00\xffA")

    table = table_name("t")
    conn.execute(f"CREATE TABLE {table} (id INT, data BYTEA)")
    conn.execute(f"INSERT INTO {table} VALUES (%s, %s)", (1, BYTES))
    stored = conn.execute(f"SELECT data FROM {table} WHERE id = %s", (1,), binary=binary).fetchone()[0]
    assert (type(stored), stored) == (bytes, BYTES)


JSON_DOC = {"a": 1, "b": [True, None, "x"], "c": {"nested": 2.5}}


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
@pytest.mark.parametrize("json_type", ["json", "jsonb"])
def test_psycopg_json(conn, table_name, json_type, binary):
    literal = conn.execute(
        f"""SELECT CAST('{{"a": 1, "b": [true, null, "x"], "c": {{"nested": 2.5}}}}' AS {json_type.upper()})""",
        binary=binary,
    ).fetchone()[0]
    assert literal == JSON_DOC

    table = table_name("t")
    conn.execute(f"CREATE TABLE {table} (id INT, doc {json_type.upper()})")
    wrapper = Jsonb if json_type == "jsonb" else Json
    conn.execute(f"INSERT INTO {table} VALUES (%s, %s)", (1, wrapper(JSON_DOC)))
    stored = conn.execute(f"SELECT doc FROM {table} WHERE id = %s", (1,), binary=binary).fetchone()[0]
    assert stored == JSON_DOC


# ---------------------------------------------------------------------------
# psycopg 3: errors and recovery
# ---------------------------------------------------------------------------


def test_psycopg_syntax_error(conn):
    with pytest.raises(psycopg.errors.SyntaxError) as excinfo:
        conn.execute("SELEC 1")

    error = excinfo.value
    assert error.sqlstate == "42601"
    assert error.diag.sqlstate == "42601"
    assert error.diag.severity == "ERROR"
    # 1-based character offset of the offending token, as PostgreSQL reports it.
    assert error.diag.statement_position == "1"

    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_psycopg_undefined_table(conn, run_prefix):
    missing = run_prefix + "no_such_table"
    with pytest.raises(psycopg.errors.UndefinedTable) as excinfo:
        conn.execute(f"SELECT * FROM {missing}")

    assert excinfo.value.sqlstate == "42P01"
    assert missing in excinfo.value.diag.message_primary

    assert conn.execute("SELECT 2").fetchone() == (2,)


def test_psycopg_error_in_extended_protocol_then_recovery(conn, run_prefix, people):
    """An error during Parse/Bind must not desynchronise the extended protocol."""
    with pytest.raises(psycopg.errors.UndefinedTable):
        conn.execute(f"SELECT * FROM {run_prefix}no_such_table WHERE id = %s", (1,))

    row = conn.execute(f"SELECT name FROM {people} WHERE id = %s", (1,), binary=True).fetchone()
    assert row == ("alice",)


def test_psycopg_error_in_transaction_then_rollback(conninfo, table_name):
    table = table_name("t")
    with psycopg.connect(**conninfo.psycopg_kwargs()) as conn:  # autocommit=False
        assert conn.info.transaction_status == TransactionStatus.IDLE
        conn.execute(f"CREATE TABLE {table} (id INT, name TEXT)")
        conn.commit()

        conn.execute(f"INSERT INTO {table} VALUES (%s, %s)", (1, "kept"))
        assert conn.info.transaction_status == TransactionStatus.INTRANS
        conn.commit()

        conn.execute(f"INSERT INTO {table} VALUES (%s, %s)", (2, "discarded"))
        with pytest.raises(psycopg.errors.SyntaxError):
            conn.execute("SELEC 1")
        assert conn.info.transaction_status == TransactionStatus.INERROR

        # PostgreSQL refuses further statements until the transaction ends.
        with pytest.raises(psycopg.errors.InFailedSqlTransaction) as excinfo:
            conn.execute("SELECT 1")
        assert excinfo.value.sqlstate == "25P02"

        conn.rollback()
        assert conn.info.transaction_status == TransactionStatus.IDLE

        conn.execute(f"INSERT INTO {table} VALUES (%s, %s)", (3, "after rollback"))
        conn.commit()
        rows = conn.execute(f"SELECT id, name FROM {table} ORDER BY id").fetchall()
        # Runnel has autocommit semantics (docs/sql.md): the insert before the error was
        # committed when it ran, and ROLLBACK cannot undo it.
        assert rows == [(1, "kept"), (2, "discarded"), (3, "after rollback")]


# ---------------------------------------------------------------------------
# SQLAlchemy 2.x reflection with the psycopg dialect
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(conninfo):
    eng = sqlalchemy.create_engine(conninfo.sqlalchemy_url("psycopg"))
    yield eng
    eng.dispose()


@pytest.fixture
def table_and_view(engine, table_name, view_name):
    table, view = table_name("t"), view_name("v")
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE TABLE {table} ({COLUMNS_DDL})")
        connection.exec_driver_sql(f"CREATE VIEW {view} AS SELECT id, name FROM {table} WHERE flag")
    return table, view


def test_sqlalchemy_schema_names(engine):
    assert "public" in sqlalchemy.inspect(engine).get_schema_names()


def test_sqlalchemy_table_names_exclude_views(engine, table_and_view):
    table, view = table_and_view
    table_names = sqlalchemy.inspect(engine).get_table_names()
    assert table in table_names
    assert view not in table_names


def test_sqlalchemy_view_names(engine, table_and_view):
    table, view = table_and_view
    view_names = sqlalchemy.inspect(engine).get_view_names()
    assert view in view_names
    assert table not in view_names


def test_sqlalchemy_has_table(engine, table_and_view, run_prefix):
    table, _ = table_and_view
    inspector = sqlalchemy.inspect(engine)
    assert inspector.has_table(table) is True
    assert inspector.has_table(run_prefix + "no_such_table") is False


def test_sqlalchemy_columns(engine, table_and_view):
    table, _ = table_and_view
    columns = sqlalchemy.inspect(engine).get_columns(table)

    assert [c["name"] for c in columns] == COLUMN_NAMES
    expected_types = [
        sqlalchemy.INTEGER,
        sqlalchemy.TEXT,
        postgresql.DOUBLE_PRECISION,
        sqlalchemy.TIMESTAMP,
        sqlalchemy.BOOLEAN,
        sqlalchemy.DATE,
    ]
    for column, expected in zip(columns, expected_types):
        assert isinstance(column["type"], expected), (column["name"], column["type"])
    assert columns[3]["type"].timezone is False
    assert [c["nullable"] for c in columns] == [True] * 6
    assert [c["default"] for c in columns] == [None] * 6


def test_sqlalchemy_view_columns(engine, table_and_view):
    _, view = table_and_view
    columns = sqlalchemy.inspect(engine).get_columns(view)
    assert [c["name"] for c in columns] == ["id", "name"]
    assert isinstance(columns[0]["type"], sqlalchemy.INTEGER)
    assert isinstance(columns[1]["type"], sqlalchemy.TEXT)


def test_sqlalchemy_core_roundtrip(engine, table_and_view):
    table, view = table_and_view
    insert = sqlalchemy.text(f"INSERT INTO {table} (id, name, flag) VALUES (:id, :name, :flag)")
    with engine.begin() as connection:
        connection.execute(
            insert,
            [
                {"id": 1, "name": "one", "flag": True},
                {"id": 2, "name": "two", "flag": False},
                {"id": 3, "name": "three", "flag": True},
            ],
        )

    with engine.connect() as connection:
        name = connection.execute(sqlalchemy.text(f"SELECT name FROM {table} WHERE id = :id"), {"id": 2}).scalar_one()
        assert name == "two"
        rows = connection.execute(sqlalchemy.text(f"SELECT id, name FROM {view} ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, "one"), (3, "three")]


# ---------------------------------------------------------------------------
# asyncpg (binary protocol, server-side prepared statements)
# ---------------------------------------------------------------------------


def run_async(test):
    """Run an async test body in a fresh event loop (no pytest plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return wrapper


async def asyncpg_people(conninfo, table):
    """Connect with asyncpg and create + fill the typed table using $n parameters."""
    connection = await asyncpg.connect(**conninfo.asyncpg_kwargs())
    await connection.execute(f"CREATE TABLE {table} ({COLUMNS_DDL})")
    status = await connection.execute(
        f"INSERT INTO {table} VALUES ($1, $2, $3, $4, $5, $6)", *ALICE
    )
    assert status == "INSERT 0 1"
    await connection.executemany(f"INSERT INTO {table} VALUES ($1, $2, $3, $4, $5, $6)", [BOB, NOBODY])
    return connection


@run_async
async def test_asyncpg_fetch_with_parameter(conninfo, table_name):
    table = table_name("t")
    connection = await asyncpg_people(conninfo, table)
    try:
        records = await connection.fetch(f"SELECT id, name FROM {table} WHERE id = $1", 1)
        assert len(records) == 1
        assert tuple(records[0]) == (1, "alice")
        assert records[0]["name"] == "alice"
        assert list(records[0].keys()) == ["id", "name"]

        assert await connection.fetch(f"SELECT id FROM {table} WHERE id = $1", 42) == []
        assert await connection.fetchval(f"SELECT count(*) FROM {table}") == 3
    finally:
        await connection.close()


@run_async
async def test_asyncpg_fetchrow_types(conninfo, table_name):
    table = table_name("t")
    connection = await asyncpg_people(conninfo, table)
    try:
        row = await connection.fetchrow(SELECT_ALL.format(table=table) + " WHERE id = $1", 1)
        assert_exact_row(row, ALICE)
        assert list(row.keys()) == COLUMN_NAMES

        row = await connection.fetchrow(SELECT_ALL.format(table=table) + " WHERE id = $1", 2)
        assert_exact_row(row, BOB)

        row = await connection.fetchrow(SELECT_ALL.format(table=table) + " WHERE id = $1", 3)
        assert tuple(row) == NOBODY
    finally:
        await connection.close()


@run_async
async def test_asyncpg_numeric(conninfo):
    connection = await asyncpg.connect(**conninfo.asyncpg_kwargs())
    try:
        value = await connection.fetchval("SELECT CAST(1.5 AS NUMERIC(10,2))")
        assert type(value) is Decimal
        assert str(value) == "1.50"
    finally:
        await connection.close()


@run_async
async def test_asyncpg_prepared_statement_metadata(conninfo, table_name):
    table = table_name("t")
    connection = await asyncpg_people(conninfo, table)
    try:
        stmt = await connection.prepare(SELECT_ALL.format(table=table) + " WHERE id = $1 AND name = $2")

        params = stmt.get_parameters()
        assert [(p.name, p.oid, p.kind, p.schema) for p in params] == [
            ("int4", INT4_OID, "scalar", "pg_catalog"),
            ("text", TEXT_OID, "scalar", "pg_catalog"),
        ]

        attributes = stmt.get_attributes()
        assert [a.name for a in attributes] == COLUMN_NAMES
        assert [(a.type.name, a.type.oid) for a in attributes] == [
            ("int4", INT4_OID),
            ("text", TEXT_OID),
            ("float8", FLOAT8_OID),
            ("timestamp", TIMESTAMP_OID),
            ("bool", BOOL_OID),
            ("date", DATE_OID),
        ]

        assert_exact_row(await stmt.fetchrow(1, "alice"), ALICE)
        assert await stmt.fetchrow(1, "bob") is None
        assert await stmt.fetchval(2, "bob ☃ zoë", column=1) == "bob ☃ zoë"
    finally:
        await connection.close()


@run_async
async def test_asyncpg_errors_and_recovery(conninfo, run_prefix):
    connection = await asyncpg.connect(**conninfo.asyncpg_kwargs())
    try:
        with pytest.raises(asyncpg.exceptions.PostgresSyntaxError) as excinfo:
            await connection.fetch("SELEC 1")
        assert excinfo.value.sqlstate == "42601"
        assert excinfo.value.position == "1"

        with pytest.raises(asyncpg.exceptions.UndefinedTableError) as excinfo:
            await connection.fetch(f"SELECT * FROM {run_prefix}no_such_table WHERE id = $1", 1)
        assert excinfo.value.sqlstate == "42P01"

        assert await connection.fetchval("SELECT $1::int + 1", 41) == 42
    finally:
        await connection.close()
