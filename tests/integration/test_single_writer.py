"""One writer per log: a second gateway on the same data folder or PostgreSQL schema refuses."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gateway.config import ConfigError, GatewayConfig
from gateway.writer_lock import acquire_writer_lock
from tests.support.gateway_proc import GatewayProcess, make_pki, write_config

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


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


def test_postgres_advisory_lock_is_per_schema(tmp_path: Path, schema: str) -> None:
    url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
    first = acquire_writer_lock(GatewayConfig(data_dir=tmp_path / "a", store_url=url))
    try:
        with pytest.raises(ConfigError, match="already writing to this PostgreSQL log"):
            acquire_writer_lock(GatewayConfig(data_dir=tmp_path / "b", store_url=url))
        other = acquire_writer_lock(GatewayConfig(data_dir=tmp_path / "c", store_url=POSTGRES))
        other.release()  # another schema (public) is another log
    finally:
        first.release()
    again = acquire_writer_lock(GatewayConfig(data_dir=tmp_path / "b", store_url=url))
    again.release()
