"""One writer per log: a second gateway on the same data folder, SQLite file or
PostgreSQL schema refuses; a gateway that loses its PostgreSQL lock stops writing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import create_engine, text

from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import evidence_service_pb2_grpc
from gateway.store.lock import ADVISORY_KEY_SQL, WriterLockHeld
from gateway.store.sql import SqlStore
from tests.support.gateway_proc import GatewayProcess, make_pki, write_config
from tests.support.grpc_client import submission

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _schema_url(schema: str, base: str = POSTGRES) -> str:
    return f"{base}?options=-csearch_path%3D{schema}"


def _submit(proc: GatewayProcess, loan: str) -> ev.SubmitEvidenceResponse:
    with proc.channel() as channel:
        stub = evidence_service_pb2_grpc.EvidenceServiceStub(channel)
        request = ev.SubmitEvidenceRequest(submission=submission(loan))
        return stub.SubmitEvidence(request, timeout=30)


def _gateway(folder: Path, pki: Path, store_url: str) -> GatewayProcess:
    """A gateway with a data folder of its own on the shared PKI and store."""
    folder.mkdir()
    sections = {"store": {"url": store_url}, "tsa": {"pki_dir": pki}}
    return GatewayProcess(write_config(folder, sections=sections), folder)


def test_second_gateway_on_the_same_data_dir_refuses(tmp_path: Path) -> None:
    make_pki(tmp_path / "data" / "pki")
    config = write_config(tmp_path)
    first = GatewayProcess(config, tmp_path)
    first.start()
    try:
        (tmp_path / "second").mkdir()
        second = GatewayProcess(config, tmp_path / "second")
        with pytest.raises(RuntimeError) as refused:
            second.start()
        assert "another gateway (pid" in str(refused.value)
        assert "already serving from" in str(refused.value)
        first.kill()  # SIGKILL releases the lock: a restart must work
        second.start()
        second.stop()
    finally:
        if first.proc is not None and first.proc.poll() is None:
            first.stop()


def test_second_gateway_on_the_same_sqlite_file_refuses(tmp_path: Path) -> None:
    """Different data folders, one store.url: the database itself is locked."""
    pki = tmp_path / "pki"
    make_pki(pki)
    url = f"sqlite:///{tmp_path / 'shared' / 'log.sqlite3'}"
    (tmp_path / "shared").mkdir()
    first = _gateway(tmp_path / "a", pki, url)
    second = _gateway(tmp_path / "b", pki, url)
    first.start()
    try:
        assert _submit(first, "loan-shared").receipt.entry_id
        with pytest.raises(RuntimeError) as refused:
            second.start()
        assert f"already writing to the SQLite database {tmp_path / 'shared'}" in str(refused.value)
        assert f"(pid {first.proc.pid if first.proc else '?'})" in str(refused.value)
        assert not first.kill()
        second.start()  # the kernel released the lock with the killed process
        assert _submit(second, "loan-shared").receipt.loan_sequence == 2
    finally:
        first.stop()
        assert second.stop() == 0


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"writer_{uuid.uuid4().hex[:12]}"
    engine = create_engine(POSTGRES)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {name}"))
    except Exception as exc:  # a missing database must fail loudly, not skip
        pytest.fail(f"PostgreSQL at {POSTGRES} is required for this test: {exc}")
    try:
        yield name
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        engine.dispose()


def test_postgres_writer_lock_is_per_database_and_schema(schema: str) -> None:
    first = SqlStore.open(_schema_url(schema))
    first.hold_writer_lock()
    other_database = f"writer_db_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    try:
        second = SqlStore.open(_schema_url(schema))
        with pytest.raises(WriterLockHeld, match="already writing to this PostgreSQL log"):
            second.hold_writer_lock()
        second.close()
        public = SqlStore.open(POSTGRES)  # another schema (public) is another log
        public.hold_writer_lock()
        public.close()
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {other_database}"))
        base = POSTGRES.rsplit("/", 1)[0] + f"/{other_database}"
        with create_engine(base).begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        elsewhere = SqlStore.open(_schema_url(schema, base))  # same schema, other database
        elsewhere.hold_writer_lock()
        elsewhere.close()
    finally:
        first.close()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {other_database} WITH (FORCE)"))
        admin.dispose()
    again = SqlStore.open(_schema_url(schema))
    again.hold_writer_lock()  # the first store's close released it
    again.close()


def _lock_holder(schema: str) -> int:
    """The backend pid that holds the writer lock of ``schema`` (from pg_locks)."""
    engine = create_engine(_schema_url(schema))
    try:
        with engine.connect() as conn:
            key = conn.execute(text(f"SELECT {ADVISORY_KEY_SQL}")).scalar_one()
            rows = conn.execute(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = "
                    "current_database()) AND objsubid = 1 "
                    "AND classid = :high AND objid = :low"
                ),
                {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF},
            ).all()
    finally:
        engine.dispose()
    assert len(rows) == 1, rows
    return int(rows[0][0])


def _count(schema: str) -> int:
    engine = create_engine(POSTGRES)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {schema}.entries")).scalar_one())
    finally:
        engine.dispose()


def test_a_lost_postgres_lock_stops_writing_and_health(tmp_path: Path, schema: str) -> None:
    pki = tmp_path / "pki"
    make_pki(pki)
    first = _gateway(tmp_path / "a", pki, _schema_url(schema))
    second = _gateway(tmp_path / "b", pki, _schema_url(schema))
    first.start()
    try:
        assert _submit(first, "loan-pg").receipt.loan_sequence == 1
        with pytest.raises(RuntimeError, match="already writing to this PostgreSQL log"):
            second.start()
        holder = _lock_holder(schema)
        engine = create_engine(POSTGRES)
        with engine.connect() as conn:
            assert conn.execute(
                text("SELECT pg_terminate_backend(:pid)"), {"pid": holder}
            ).scalar_one()
        engine.dispose()
        written = _count(schema)
        # Health says NOT_SERVING within a few polls (0.2 s each) ...
        deadline = time.monotonic() + 10
        with first.channel() as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while health.Check(health_pb2.HealthCheckRequest(), timeout=5).status != NOT_SERVING:
                assert time.monotonic() < deadline, "health still SERVING"
                time.sleep(0.1)
        # ... and nothing is written any more, now that another gateway may write.
        second.start()
        assert _submit(second, "loan-pg").receipt.loan_sequence == 2
        for _ in range(3):
            with pytest.raises(grpc.RpcError) as refused:
                _submit(first, "loan-pg")
            assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
        assert _count(schema) == written + 1  # the second gateway's entry only
        assert _lock_holder(schema) != holder  # the second gateway's session holds it
    finally:
        first.stop()
        second.stop()
    assert "the writer lock on the database is lost" in first.log_path.read_text()
