"""gateway.config: TOML, GATEWAY_* environment overrides, and the plaintext rule."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.config import ConfigError, GatewayConfig, is_loopback, load_config, parse_listen
from gateway.server import server_options


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return path


def test_defaults() -> None:
    config = load_config(None, environ={})
    assert config.listen == "127.0.0.1:50051"
    assert config.data_dir == Path("data")
    assert config.insecure_dev is False
    assert config.dev_institution == "dev-bank"
    assert config.pki_dir == Path("data/pki")
    assert config.log_vkey_path == Path("data/pki/log.vkey")
    assert config.database_url == "sqlite:///data/gateway.sqlite3"
    assert (config.log_max_batch, config.log_max_wait_ms) == (500, 5.0)
    assert config.log_wait_when_idle is False


def test_file_then_environment(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
listen = "127.0.0.1:6000"
data_dir = "state"
insecure_dev = true
[tsa]
urls = ["http://127.0.0.1:3180/"]
ca_files = ["ca.pem"]
[log]
max_batch = 100
max_wait_ms = 2.5
wait_when_idle = true
""",
    )
    config = load_config(path, environ={"GATEWAY_LOG_MAX_BATCH": "50", "GATEWAY_LISTEN": "[::1]:7"})
    assert config.listen == "[::1]:7"
    assert config.data_dir == tmp_path / "state"  # relative to the file
    assert config.insecure_dev is True
    assert config.tsa_urls == ("http://127.0.0.1:3180/",)
    assert config.tsa_ca_files == (tmp_path / "ca.pem",)
    assert config.log_max_batch == 50
    assert config.log_max_wait_ms == 2.5
    assert config.log_wait_when_idle is True
    off = load_config(path, environ={"GATEWAY_LOG_WAIT_WHEN_IDLE": "false"})
    assert off.log_wait_when_idle is False


def test_environment_lists_and_booleans() -> None:
    config = load_config(
        None,
        environ={
            "GATEWAY_TSA_URLS": "http://a/, http://b/",
            "GATEWAY_INSECURE_DEV": "yes",
            "GATEWAY_DATA_DIR": "/srv/gw",
        },
    )
    assert config.tsa_urls == ("http://a/", "http://b/")
    assert config.insecure_dev is True
    assert config.data_dir == Path("/srv/gw")


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ("nonsense = 1", {}, "unknown key 'nonsense'"),
        ("[log]\nmax_batch = 'many'", {}, "log.max_batch"),
        ("listen = 'nohostport'", {}, "HOST:PORT"),
        ("insecure_dev = 'maybe'", {}, "insecure_dev"),
        ("[log]\nwait_when_idle = 5", {}, "log.wait_when_idle must be true or false"),
        ("", {"GATEWAY_LOG_WAIT_WHEN_IDLE": "maybe"}, "WAIT_WHEN_IDLE must be true or false"),
        ("", {"GATEWAY_LOG_MAX_QUEUE": "1"}, "max_queue"),
        ("[tsa]\nurls = ['ftp://x']", {}, "http://"),
        ("dev_institution = 'a bank'", {}, "dev_institution"),
        ("this is not toml", {}, "not valid TOML"),
        ("[grpc]\nkeepalive_time_seconds = 0", {}, "grpc.keepalive_time_seconds"),
        ("[grpc]\nmax_connection_idle_seconds = -1", {}, "turns the limit off"),
        ("[grpc]\nmax_concurrent_streams = 0", {}, "grpc.max_concurrent_streams"),
        ("[stream]\nidle_seconds = -1", {}, "stream.idle_seconds"),
        ("[stream]\nbuffer_bytes = 1000000", {}, "every call in progress"),
        (
            "[stream]\nbuffer_bytes_per_institution = -1",
            {},
            r"stream.buffer_bytes_per_institution must be 0 \(a quarter",
        ),
        (
            "[stream]\nbuffer_bytes_per_institution = 100000000",
            {},
            r"stream.buffer_bytes_per_institution \(100,000,000\) must be at most "
            r"stream.buffer_bytes \(67,108,864\)",
        ),
        (  # 250 calls of one institution (a quarter of 1,000) need 250 read slots
            "[stream]\nbuffer_bytes_per_institution = 1000000",
            {},
            r"stream.buffer_bytes_per_institution \(1,000,000\) must be at least "
            r"max_calls_per_institution x 16,896 = 4,224,000",
        ),
        (  # the default share (a quarter of the budget) too
            "max_calls_per_institution = 1000",
            {},
            r"\(0: a quarter of stream.buffer_bytes, 16,777,216\) must be at least",
        ),
        ("[stream]\nstalled_write_seconds = 0", {}, "stream.stalled_write_seconds must be"),
        ("", {"GATEWAY_STREAM_STALLED_WRITE_SECONDS": "-1"}, "stream.stalled_write_seconds"),
        ("certificate_warning_days = -1", {}, "certificate_warning_days"),
        ("max_calls_per_institution = -1", {}, "max_calls_per_institution must be 0"),
    ],
)
def test_bad_config_is_a_clear_error(
    tmp_path: Path, text: str, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text), environ=environ)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Path("no/such/file.toml"), environ={})


def test_plaintext_needs_loopback_and_tls_is_the_default() -> None:
    for listen in ("0.0.0.0:50051", "10.1.2.3:50051"):
        GatewayConfig(listen=listen).check_serving()  # mutual TLS: any address
    with pytest.raises(ConfigError, match="loopback"):
        GatewayConfig(listen="0.0.0.0:50051", insecure_dev=True).check_serving()
    with pytest.raises(ConfigError, match="loopback"):
        GatewayConfig(listen="10.1.2.3:50051", insecure_dev=True).check_serving()
    for listen in ("127.0.0.1:50051", "localhost:1", "[::1]:50051", "127.8.9.10:0"):
        GatewayConfig(listen=listen, insecure_dev=True).check_serving()


def test_flag_turns_on_insecure_dev() -> None:
    assert load_config(None, environ={}, insecure_dev=True).insecure_dev is True
    assert load_config(None, environ={}, insecure_dev=False).insecure_dev is False


def test_listen_parsing() -> None:
    assert parse_listen("[::1]:80") == ("::1", 80)
    assert parse_listen("localhost:0") == ("localhost", 0)
    assert is_loopback("::1") and is_loopback("127.0.0.2") and not is_loopback("example.org")
    with pytest.raises(ConfigError):
        parse_listen("127.0.0.1:70000")


def test_min_occurred_at_from_file_environment_and_default(tmp_path: Path) -> None:
    floor = datetime(2000, 1, 1, tzinfo=UTC)
    assert load_config(None, environ={}).min_occurred_at == floor
    assert GatewayConfig().min_occurred_at == floor
    toml_time = write(tmp_path, "min_occurred_at = 1990-01-01T00:00:00Z\n")
    assert load_config(toml_time, environ={}).min_occurred_at == datetime(1990, 1, 1, tzinfo=UTC)
    text = write(tmp_path, 'min_occurred_at = "1995-06-01T08:00:00+08:00"\n')
    assert load_config(text, environ={}).min_occurred_at == datetime(1995, 6, 1, tzinfo=UTC)
    env = load_config(None, environ={"GATEWAY_MIN_OCCURRED_AT": "2010-01-01T00:00:00Z"})
    assert env.min_occurred_at == datetime(2010, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('min_occurred_at = "2000-01-01T00:00:00"', "with its UTC offset"),
        ("min_occurred_at = 2000-01-01", "with its UTC offset"),
        ('min_occurred_at = "yesterday"', "with its UTC offset"),
        ("min_occurred_at = 2999-01-01T00:00:00Z", "in the future"),
    ],
)
def test_bad_min_occurred_at_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text + "\n"), environ={})


def test_transport_limits_from_file_and_environment(tmp_path: Path) -> None:
    defaults = load_config(None, environ={})
    assert defaults.grpc_keepalive_time_seconds == 60
    assert defaults.grpc_max_connection_idle_seconds == 300
    assert defaults.grpc_max_connection_age_seconds == 3600
    assert defaults.grpc_max_concurrent_streams == 256
    assert defaults.stream_idle_seconds == 60
    assert defaults.stream_buffer_bytes == 64 * 1024 * 1024
    assert defaults.stream_buffer_bytes_per_institution == 0  # a quarter of the above
    assert defaults.stream_stalled_write_seconds == 30
    assert defaults.certificate_warning_days == 30
    path = write(
        tmp_path,
        """
certificate_warning_days = 10
max_concurrent_rpcs = 8
[grpc]
keepalive_time_seconds = 5
keepalive_timeout_seconds = 2
min_client_ping_interval_seconds = 1
client_ping_without_calls = false
max_connection_idle_seconds = 0
max_connection_age_seconds = 120
max_connection_age_grace_seconds = 3
max_concurrent_streams = 4
[stream]
idle_seconds = 0.5
buffer_bytes = 1048576
buffer_bytes_per_institution = 524288
""",
    )
    config = load_config(
        path,
        environ={
            "GATEWAY_GRPC_MAX_CONCURRENT_STREAMS": "6",
            "GATEWAY_MAX_CALLS_PER_INSTITUTION": "3",
            "GATEWAY_STREAM_STALLED_WRITE_SECONDS": "2.5",
        },
    )
    assert defaults.max_calls_per_institution == 0  # a quarter of max_concurrent_rpcs
    assert config.max_calls_per_institution == 3
    assert config.certificate_warning_days == 10
    assert config.grpc_client_ping_without_calls is False
    assert config.grpc_max_concurrent_streams == 6
    assert (config.stream_idle_seconds, config.stream_buffer_bytes) == (0.5, 1048576)
    assert config.stream_buffer_bytes_per_institution == 524288
    assert config.stream_stalled_write_seconds == 2.5
    options = dict(server_options(config))
    assert options["grpc.keepalive_time_ms"] == 5000
    assert options["grpc.keepalive_timeout_ms"] == 2000
    assert options["grpc.keepalive_permit_without_calls"] == 0
    assert options["grpc.http2.min_recv_ping_interval_without_data_ms"] == 1000
    assert options["grpc.max_concurrent_streams"] == 6
    assert "grpc.max_connection_idle_ms" not in options  # 0: no limit
    assert options["grpc.max_connection_age_ms"] == 120_000
    assert options["grpc.max_connection_age_grace_ms"] == 3000


def test_tls_files_default_to_the_pki_and_follow_the_file(tmp_path: Path) -> None:
    config = load_config(None, environ={"GATEWAY_DATA_DIR": str(tmp_path)})
    pki = tmp_path / "pki"
    assert config.tls_cert_path == pki / "server.pem"
    assert config.tls_key_path == pki / "server.key"
    assert config.tls_client_ca_paths == (pki / "root-ca.pem",)
    assert config.operator_cert_path == pki / "operator.pem"
    path = tmp_path / "g.toml"
    path.write_text(
        '[tls]\ncert_file = "s.pem"\nkey_file = "s.key"\nclient_ca_files = ["a.pem", "b.pem"]\n'
        '[admin]\noperator_cert_file = "op.pem"\n'
    )
    config = load_config(path, environ={"GATEWAY_TLS_KEY_FILE": "/k/x.key"})
    assert config.tls_cert_path == tmp_path / "s.pem"
    assert config.tls_key_path == Path("/k/x.key")
    assert config.tls_client_ca_paths == (tmp_path / "a.pem", tmp_path / "b.pem")
    assert config.operator_cert_path == tmp_path / "op.pem"


def test_cases_heartbeat_from_file_environment_and_default(tmp_path: Path) -> None:
    assert load_config(None, environ={}).cases_heartbeat_seconds == 30.0
    path = write(tmp_path, "[cases]\nheartbeat_seconds = 2.5\n")
    assert load_config(path, environ={}).cases_heartbeat_seconds == 2.5
    env = {"GATEWAY_CASES_HEARTBEAT_SECONDS": "3600"}
    assert load_config(path, environ=env).cases_heartbeat_seconds == 3600.0


@pytest.mark.parametrize("value", ["0", "0.5", "3601", "-1"])
def test_a_cases_heartbeat_out_of_bounds_is_a_clear_error(value: str) -> None:
    with pytest.raises(ConfigError, match=r"cases.heartbeat_seconds must be from 1 to 3600"):
        load_config(None, environ={"GATEWAY_CASES_HEARTBEAT_SECONDS": value})


def test_the_docs_table_lists_every_key_with_its_variable() -> None:
    """docs/gateway.md's configuration table and the keys the config reads are one set,
    each with its GATEWAY_* variable."""
    import re

    from gateway.config import _KEYS, _env_name

    doc = (Path(__file__).resolve().parents[4] / "docs" / "gateway.md").read_text()
    rows = {
        (section, key): variable
        for section, key, variable in re.findall(
            r"^\| `(?:\[(\w+)\] )?(\w+)` \| `(GATEWAY_\w+)` \|", doc, re.M
        )
    }
    keys = {k for k in _KEYS if k != ("anchor", "chains")}  # file only: its own row
    assert set(rows) == keys
    for (section, key), variable in rows.items():
        assert variable == _env_name(section, key)
    row = re.search(r"^\| `\[cases\] heartbeat_seconds` \| `\w+` \| `(\w+)` \|", doc, re.M)
    assert row is not None and float(row.group(1)) == GatewayConfig().cases_heartbeat_seconds
