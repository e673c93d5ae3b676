"""The SQL executor against the real PostgreSQL and MariaDB (or MySQL) servers of the test machine.

Each test makes a throw-away table with a few typed rows under a unique name (a PostgreSQL schema of its
own; a MariaDB table in the test database) and drops it afterwards. The local PostgreSQL trusts loopback
connections, so it cannot refuse a wrong password; there the refused login is an unknown user, which the
server reports as the same authentication failure class (SQLSTATE 28).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncmy
import asyncpg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from switchyard.adapters.sql import json_safe, run_sql, tls_context
from switchyard.core.errors import InvalidInput, UpstreamError
from tests.conftest import MYSQL_URL, POSTGRES_URL, _skip_or_fail

SECRET = "n0t-the-Password-42"


@dataclass
class Database:
    protocol: str
    config: dict[str, Any]
    credentials: dict[str, str]
    schema: str  # where the table lives: a PostgreSQL schema, a MySQL database
    table: str  # qualified name
    name: str  # bare name
    direct: Callable[[str], Awaitable[list[tuple[Any, ...]]]]  # a query on an ordinary connection

    def mark(self, n: int) -> str:
        return f"${n}" if self.protocol == "postgresql" else "%s"

    async def run(self, kind: str = "query", timeout: float = 10, **payload: Any) -> dict[str, Any]:
        return await run_sql(
            self.protocol, kind, address="127.0.0.1", config=self.config, credentials=self.credentials,
            payload=payload, timeout=timeout,
        )  # fmt: skip

    async def count(self) -> int:
        return int((await self.direct(f"SELECT COUNT(*) FROM {self.table}"))[0][0])


def _parts(url: str) -> tuple[str, int, str, str]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 0, parts.path.lstrip("/"), parts.username or ""


async def _postgres() -> AsyncIterator[Database]:
    _host, port, database, user = _parts(POSTGRES_URL)
    try:
        admin = await asyncpg.connect(POSTGRES_URL, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        _skip_or_fail(f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__})")
    schema = f"sy_sql_{uuid.uuid4().hex[:10]}"
    await admin.execute(f"""
        CREATE SCHEMA {schema};
        CREATE TABLE {schema}.items (id int PRIMARY KEY, name text, price numeric(10, 2), created_at timestamptz,
                                     day date, payload bytea, uid uuid, tags jsonb);
        INSERT INTO {schema}.items VALUES
          (1, 'anvil', 19.99, '2024-05-01T10:00:00Z', '2024-05-01', '\\x00ff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '["x"]'),
          (2, 'rope', 5.00, '2024-05-02T11:30:00Z', '2024-05-02', NULL, NULL, NULL),
          (3, 'lamp', 42.50, '2024-05-03T12:45:00Z', '2024-05-03', NULL, NULL, NULL);
        CREATE VIEW {schema}.cheap AS SELECT id FROM {schema}.items WHERE price < 10;
    """)  # fmt: skip

    async def direct(sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await admin.fetch(sql)]

    config = {"host": "localhost", "port": port, "database": database, "sslmode": "disable"}
    try:
        yield Database(
            "postgresql",
            config,
            {"username": user, "password": ""},
            schema,
            f"{schema}.items",
            "items",
            direct,
        )
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


async def _mysql() -> AsyncIterator[Database]:
    host, port, database, user = _parts(MYSQL_URL)
    try:
        admin = await asyncmy.connect(host=host, port=port, user=user, database=database, connect_timeout=3)
    except (OSError, asyncmy.MySQLError) as exc:
        _skip_or_fail(f"MySQL/MariaDB not reachable at {MYSQL_URL} ({type(exc).__name__})")
    await admin.autocommit(True)
    name = f"sy_sql_{uuid.uuid4().hex[:10]}"

    async def direct(sql: str) -> list[tuple[Any, ...]]:
        async with admin.cursor() as cursor:
            await cursor.execute(sql)
            return list(await cursor.fetchall())

    await direct(f"""CREATE TABLE {name} (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(10, 2),
                     created_at DATETIME(6), day DATE, payload VARBINARY(8), uid CHAR(36), tags JSON)""")
    await direct(f"""INSERT INTO {name} VALUES
        (1, 'anvil', 19.99, '2024-05-01 10:00:00', '2024-05-01', x'00ff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '["x"]'),
        (2, 'rope', 5.00, '2024-05-02 11:30:00', '2024-05-02', NULL, NULL, NULL),
        (3, 'lamp', 42.50, '2024-05-03 12:45:00', '2024-05-03', NULL, NULL, NULL)""")  # fmt: skip
    await direct(f"CREATE VIEW {name}_cheap AS SELECT id FROM {name} WHERE price < 10")
    config = {"host": "localhost", "port": port, "database": database, "ssl_mode": "DISABLED"}
    try:
        yield Database("mysql", config, {"username": user, "password": ""}, database, name, name, direct)
    finally:
        await direct(f"DROP VIEW IF EXISTS {name}_cheap")
        await direct(f"DROP TABLE IF EXISTS {name}")
        await admin.ensure_closed()


@pytest.fixture(params=["postgresql", "mysql"])
async def db(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    factory = _postgres if request.param == "postgresql" else _mysql
    async for database in factory():
        yield database


async def test_query_with_params_returns_json_safe_values(db: Database) -> None:
    result = await db.run(
        sql=f"SELECT id, name, price, created_at, day, payload, uid FROM {db.table} WHERE id <= {db.mark(1)} "
        f"AND day >= {db.mark(2)} ORDER BY id",
        params=[2, "2024-05-01"],
    )
    assert result["columns"] == ["id", "name", "price", "created_at", "day", "payload", "uid"]
    assert result["row_count"] == 2 and result["truncated"] is False
    first, second = result["rows"]
    assert first[:3] == [1, "anvil", "19.99"]
    assert dt.datetime.fromisoformat(first[3]).replace(tzinfo=None) == dt.datetime(2024, 5, 1, 10, 0)
    assert first[4] == "2024-05-01"
    assert first[5] == "AP8="  # base64 of 00 ff
    assert first[6] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert second[:3] == [2, "rope", "5.00"] and second[5:] == [None, None]


async def test_max_rows_truncates_and_the_cap_bounds_it(db: Database) -> None:
    cut = await db.run(sql=f"SELECT id FROM {db.table} ORDER BY id", max_rows=2)
    assert cut == {"columns": ["id"], "rows": [[1], [2]], "row_count": 2, "truncated": True}
    whole = await db.run(sql=f"SELECT id FROM {db.table} ORDER BY id", max_rows=3)
    assert whole["row_count"] == 3 and whole["truncated"] is False
    capped = await run_sql(
        db.protocol, "query", address="127.0.0.1", config=db.config, credentials=db.credentials,
        payload={"sql": f"SELECT id FROM {db.table}"}, timeout=10, max_rows_cap=1,
    )  # fmt: skip
    assert capped["row_count"] == 1 and capped["truncated"] is True


async def test_list_tables_sees_the_table_and_the_view_but_no_system_schema(db: Database) -> None:
    mine = await db.run("list_tables", schema=db.schema)
    entries = {(t["schema"], t["name"], t["type"]) for t in mine["tables"]}
    view = "cheap" if db.protocol == "postgresql" else f"{db.name}_cheap"
    assert {(db.schema, db.name, "table"), (db.schema, view, "view")} <= entries
    assert {t["schema"] for t in mine["tables"]} == {db.schema}
    everything = await db.run("list_tables")
    schemas = {t["schema"] for t in everything["tables"]}
    assert db.schema in schemas
    assert not schemas & {"pg_catalog", "information_schema", "mysql", "performance_schema", "sys"}
    assert not any(s.startswith("pg_") for s in schemas)


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO {table} (id, name) VALUES (99, 'intruder')",
        "DELETE FROM {table}",
        "CREATE TABLE {table}_copy (id INT)",
        "DROP TABLE {table}",
        "SELECT 1; DELETE FROM {table}",
    ],
)
async def test_writes_are_refused_and_nothing_changes(db: Database, statement: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        await db.run(sql=statement.format(table=db.table))
    assert caught.value.code == "database.query_failed"
    assert caught.value.detail.startswith("the database refused the statement: ")
    assert await db.count() == 3
    listed = await db.run("list_tables", schema=db.schema)
    assert f"{db.name}_copy" not in {t["name"] for t in listed["tables"]}


async def test_a_bad_statement_reports_the_server_message(db: Database) -> None:
    with pytest.raises(InvalidInput) as caught:
        await db.run(sql=f"SELEC id FROM {db.table}")
    assert caught.value.code == "database.query_failed" and "syntax" in caught.value.detail.lower()


async def test_wrong_credentials_are_an_auth_failure_without_the_password(db: Database) -> None:
    user = db.credentials["username"] if db.protocol == "mysql" else f"nobody_{uuid.uuid4().hex[:8]}"
    with pytest.raises(UpstreamError) as caught:
        await run_sql(
            db.protocol, "query", address="127.0.0.1", config=db.config,
            credentials={"username": user, "password": SECRET}, payload={"sql": "SELECT 1"}, timeout=5,
        )  # fmt: skip
    error = caught.value
    assert error.code == "database.auth_failed" and error.status == 502
    assert error.remediation and "user and password" in error.remediation
    assert SECRET not in f"{error} {error!r} {error.detail} {error.remediation} {error.extra}"


async def test_an_unknown_database_is_named(db: Database) -> None:
    with pytest.raises(UpstreamError) as caught:
        await run_sql(
            db.protocol, "query", address="127.0.0.1", config={**db.config, "database": "sy_no_such_db"},
            credentials=db.credentials, payload={"sql": "SELECT 1"}, timeout=5,
        )  # fmt: skip
    assert caught.value.code == "database.connect_failed" and "sy_no_such_db" in caught.value.detail


async def test_a_closed_port_is_unreachable(db: Database) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with pytest.raises(UpstreamError) as caught:
        await run_sql(
            db.protocol, "query", address="127.0.0.1", config={**db.config, "port": closed},
            credentials={**db.credentials, "password": SECRET}, payload={"sql": "SELECT 1"}, timeout=3,
        )  # fmt: skip
    assert caught.value.code == "database.unreachable"
    assert f"localhost:{closed}" in caught.value.detail and SECRET not in caught.value.detail


async def test_a_slow_statement_times_out_and_stops_on_the_server(db: Database) -> None:
    marker = f"sy_slow_{uuid.uuid4().hex[:8]}"
    sleep = "pg_sleep(5)" if db.protocol == "postgresql" else "SLEEP(5)"
    started = time.monotonic()
    with pytest.raises(UpstreamError) as caught:
        await db.run(sql=f"SELECT {sleep} AS {marker}", timeout=1)
    assert caught.value.code == "database.timeout" and caught.value.status == 504
    assert time.monotonic() - started < 3.5
    if db.protocol == "postgresql":
        probe = (
            f"SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%{marker}%' AND pid <> pg_backend_pid()"
        )
    else:
        probe = f"SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE '%{marker}%' AND id <> CONNECTION_ID()"
    for _ in range(20):  # the session ends shortly after the error, and with it the statement
        if (await db.direct(probe))[0][0] == 0:
            break
        await asyncio.sleep(0.1)
    assert (await db.direct(probe))[0][0] == 0, "the slow statement still runs on the server"


@pytest.fixture
async def pg() -> AsyncIterator[Database]:
    async for database in _postgres():
        yield database


async def test_postgres_parameters_take_json_values(pg: Database) -> None:
    """asyncpg wants Python types per parameter type; MySQL parameters are escaped literals the server reads."""
    result = await pg.run(
        sql="SELECT $1::int + 1, $2::numeric * 2, $3::timestamptz, $4::uuid, $5::jsonb, $6::text, $7::int[], "
        "NOT $8::bool, $9::date",
        params=[
            "41",
            1.25,
            "2024-05-01T10:00:00Z",
            str(uuid.UUID(int=7)),
            {"a": [1]},
            7,
            [1, 2],
            "true",
            "2024-05-01",
        ],
    )
    assert result["rows"][0] == [
        42, "2.50", "2024-05-01T10:00:00+00:00", "00000000-0000-0000-0000-000000000007", '{"a": [1]}', "7", [1, 2],
        False, "2024-05-01",
    ]  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        await pg.run(sql="SELECT $1::int", params=["forty-two"])
    assert caught.value.code == "database.query_failed" and "$1" in caught.value.detail
    with pytest.raises(InvalidInput):
        await pg.run(sql="SELECT $1::int, $2::int", params=[1])


async def test_bad_input_is_refused_before_connecting() -> None:
    common: dict[str, Any] = {"address": "127.0.0.1", "config": {"host": "db.example.com", "sslmode": "disable"},
                              "credentials": {"username": "u", "password": SECRET}, "timeout": 1}  # fmt: skip
    for payload in (
        {},
        {"sql": "  "},
        {"sql": "SELECT 1", "params": "x"},
        {"sql": "SELECT 1", "max_rows": 0},
    ):
        with pytest.raises(InvalidInput) as caught:
            await run_sql("postgresql", "query", payload=payload, **common)
        assert caught.value.code == "action.invalid_input"
    with pytest.raises(InvalidInput) as caught:
        await run_sql("mongodb", "query", payload={"sql": "SELECT 1"}, **common)
    assert caught.value.code == "action.not_sql"
    with pytest.raises(InvalidInput) as caught:
        await run_sql(
            "postgresql", "query", payload={"sql": "SELECT 1"}, **{**common, "config": {"sslmode": "prefer"}}
        )
    assert caught.value.code == "database.invalid_config"


def test_values_become_json() -> None:
    from decimal import Decimal

    assert json_safe(Decimal("1.10")) == "1.10"
    assert json_safe(dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)) == "2024-05-01T10:00:00+00:00"
    assert json_safe(dt.time(12, 30)) == "12:30:00"
    assert json_safe(dt.timedelta(days=1, hours=2, microseconds=500)) == "P1DT2H0M0.0005S"
    assert json_safe(-dt.timedelta(minutes=90)) == "-P0DT1H30M0S"
    assert json_safe(b"\x00\xff") == "AP8="
    assert json_safe(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert json_safe(float("nan")) == "nan"
    assert json_safe({"a": (1, {2, 1})}) == {"a": [1, [1, 2]]}
    assert json_safe(asyncpg.Range(1, 5)) == {"lower": 1, "upper": 5, "lower_inc": True, "upper_inc": False,
                                              "empty": False}  # fmt: skip


def _certificate(name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.mark.parametrize(
    ("mode", "server_name", "accepted"),
    [("verify-full", "db.switchyard.test", True), ("verify-full", "other.switchyard.test", False),
     ("VERIFY_IDENTITY", "db.switchyard.test", True), ("verify-ca", "other.switchyard.test", True),
     ("REQUIRED", "other.switchyard.test", True)],
)  # fmt: skip
async def test_tls_checks_the_host_name_while_connecting_to_the_address(
    tmp_path: Any, mode: str, server_name: str, accepted: bool
) -> None:
    cert, key = _certificate("db.switchyard.test")
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    seen: list[str | None] = []
    server_context.sni_callback = lambda sslobj, name, ctx: seen.append(name)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    context = tls_context(mode, server_name, cadata=cert.decode())
    assert context is not None
    try:
        if accepted:
            _, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=context, server_hostname="127.0.0.1"
            )
            writer.close()
            assert seen == [server_name], "the configured host name goes out as SNI, not the address"
        else:
            with pytest.raises(ssl.SSLCertVerificationError):
                await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="127.0.0.1")
    finally:
        server.close()
        await server.wait_closed()
    assert tls_context("disable", server_name) is None and tls_context("DISABLED", server_name) is None
