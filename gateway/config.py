"""Gateway configuration: a TOML file, environment overrides, defaults.

Precedence, highest first: command-line flags (``--insecure-dev``), the
``GATEWAY_*`` environment variables, the TOML file, the defaults below.
Every key of the file has one environment variable: the section and the key,
upper-cased and joined with ``_``, after ``GATEWAY_`` (``[tsa] urls`` ->
``GATEWAY_TSA_URLS``). Lists in the environment are comma-separated;
booleans are ``true``/``false`` (also ``1``/``0``, ``yes``/``no``).

Relative paths in the file are relative to the file's folder; relative paths
from the environment or the defaults are relative to the working directory.

::

    listen = "127.0.0.1:50051"     # HOST:PORT; port 0 picks a free port
    data_dir = "./data"            # SQLite file, PKI, TSA serial state
    insecure_dev = false           # plaintext gRPC (no mutual TLS); only allowed on loopback
    dev_institution = "dev-bank"   # caller's institution in development mode
    health_poll_seconds = 1.0      # how often dependencies are probed
    certificate_warning_days = 30  # health warns this long before the TSA or root cert expires
    max_concurrent_rpcs = 1000     # API calls at once; beyond: RESOURCE_EXHAUSTED (not health)
    max_calls_per_institution = 0  # one institution's calls at once; 0: a quarter of the above
    min_occurred_at = "2000-01-01T00:00:00Z"  # earlier occurred_at: INVALID_ARGUMENT (RFC 3339)

    [tls]                          # mutual TLS (the default; see docs/onboarding.md)
    cert_file = ""                 # server certificate (PEM); default: <pki_dir>/server.pem
    key_file = ""                  # its private key (PEM); default: <pki_dir>/server.key
    client_ca_files = []           # CAs of client certificates; default: [<pki_dir>/root-ca.pem]

    [admin]
    operator_cert_file = ""        # registered as "operator" (admin) at first start;
                                   # default: <pki_dir>/operator.pem

    [store]
    url = ""                       # default: sqlite:///<data_dir>/gateway.sqlite3

    [tsa]
    urls = []                      # RFC 3161 HTTP TSAs; empty: in-process engine
    ca_files = []                  # trust anchors of those TSAs (PEM)
    pki_dir = ""                   # default: <data_dir>/pki
    processes = 1                  # in-process engine: signing worker processes (0: threads)

    [log]
    max_batch = 500                # group commit: at most N items per commit
    max_wait_ms = 5.0              # ... or T milliseconds after the first one, while a commit runs
    wait_when_idle = false         # true: wait those T ms even when no commit runs
    max_queue = 20000              # items waiting; beyond: RESOURCE_EXHAUSTED
    max_queue_age_seconds = 30.0   # health NOT_SERVING when an item waits longer (0: off)

    [metrics]                      # Prometheus (docs/gateway.md, "Metrics")
    listen = ""                    # HOST:PORT; empty: off; loopback: HTTP, else mutual TLS

    [logging]
    format = "text"                # or "json": one JSON object per line
    calls = true                   # one line per API call (request id, RPC, code, duration)

    [grpc]                         # connections (0 turns an idle or age limit off)
    keepalive_time_seconds = 60    # the server pings a connection this often ...
    keepalive_timeout_seconds = 20 # ... and closes it when a ping is not answered in time
    min_client_ping_interval_seconds = 10  # clients pinging more often get GOAWAY
    client_ping_without_calls = true       # clients may ping with no call in progress
    max_connection_idle_seconds = 300      # a connection with no call this long: GOAWAY
    max_connection_age_seconds = 3600      # any connection this old: GOAWAY ...
    max_connection_age_grace_seconds = 30  # ... and its calls get this long to finish
    max_concurrent_streams = 256   # calls at once on one connection (see docs/gateway.md)

    [stream]                       # SubmitEvidenceStream
    idle_seconds = 60              # no message this long (nothing unanswered): DEADLINE_EXCEEDED
    buffer_bytes = 67108864        # read-ahead of all streams together (64 MiB)
    buffer_bytes_per_institution = 0  # one institution's streams; 0: a quarter of the above
    stalled_write_seconds = 30     # an answer not taken by the client this long: RESOURCE_EXHAUSTED

    [shutdown]                     # SIGTERM / SIGINT (docs/gateway.md "Stopping the gateway")
    grace_seconds = 15             # calls running then get this long to finish

    [cases]                        # CaseService (docs/cases.md)
    heartbeat_seconds = 30         # an idle WatchCases stream gets a cursor this often (1..3600)

    [anchor]                       # checkpoints anchored on EVM chains (docs/anchoring.md)
    enabled = false
    interval_seconds = 60          # at most one anchor per chain this often ...
    min_new_entries = 1            # ... once this many entries are not yet anchored
    confirmations = 1              # K: the anchor's block plus the blocks after it (1: mined)
    max_lag_seconds = 600          # health service evidence_gateway.anchoring past this
    replace_after_seconds = 120    # a transaction pending this long is replaced (same nonce) ...
    max_gas_price_gwei = 500       # ... at a gas price 12.5% higher, at most this

    [[anchor.chains]]              # one table per chain (in the file only, not the environment)
    name = "consortium"            # 1 to 64 letters, digits, '-' or '_' (GetAnchor's chain)
    rpc_url = "http://127.0.0.1:8545"   # standard Ethereum JSON-RPC
    contract = "0x..."             # the EvidenceAnchor contract (notary anchor deploy)
    key_file = "anchor/submitter.key"   # the submitter's key (notary anchor init), mode 0600
    chain_id = 31337               # the node must report this chain id
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.anchor.settings import ChainConfig, check_anchor, parse_chains
from gateway.errors import GatewayError
from gateway.model import DEFAULT_MIN_OCCURRED_AT, validate_institution

__all__ = [
    "DEFAULT_LISTEN",
    "ChainConfig",
    "ConfigError",
    "GatewayConfig",
    "is_loopback",
    "load_config",
    "parse_listen",
]

DEFAULT_LISTEN = "127.0.0.1:50051"


class ConfigError(GatewayError):
    """The configuration is invalid or does not allow the server to start."""


@dataclass(frozen=True)
class GatewayConfig:
    """The resolved configuration of one gateway process."""

    listen: str = DEFAULT_LISTEN
    data_dir: Path = Path("data")
    insecure_dev: bool = False
    dev_institution: str = "dev-bank"
    health_poll_seconds: float = 1.0
    certificate_warning_days: float = 30.0
    max_concurrent_rpcs: int = 1000
    max_calls_per_institution: int = 0  # 0: max(1, max_concurrent_rpcs // 4)
    min_occurred_at: datetime = DEFAULT_MIN_OCCURRED_AT
    store_url: str = ""
    tsa_urls: tuple[str, ...] = ()
    tsa_ca_files: tuple[Path, ...] = ()
    tsa_pki_dir: Path | None = None
    tsa_processes: int = 1
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_files: tuple[Path, ...] = ()
    admin_operator_cert_file: Path | None = None
    log_max_batch: int = 500
    log_max_wait_ms: float = 5.0
    log_wait_when_idle: bool = False
    log_max_queue: int = 20000
    log_max_queue_age_seconds: float = 30.0
    metrics_listen: str = ""
    logging_format: str = "text"
    logging_calls: bool = True
    grpc_keepalive_time_seconds: float = 60.0
    grpc_keepalive_timeout_seconds: float = 20.0
    grpc_min_client_ping_interval_seconds: float = 10.0
    grpc_client_ping_without_calls: bool = True
    grpc_max_connection_idle_seconds: float = 300.0
    grpc_max_connection_age_seconds: float = 3600.0
    grpc_max_connection_age_grace_seconds: float = 30.0
    grpc_max_concurrent_streams: int = 256
    stream_idle_seconds: float = 60.0
    stream_buffer_bytes: int = 64 * 1024 * 1024
    stream_buffer_bytes_per_institution: int = 0
    stream_stalled_write_seconds: float = 30.0
    max_message_bytes: int = field(default=16 * 1024 * 1024)
    shutdown_grace_seconds: float = 15.0
    cases_heartbeat_seconds: float = 30.0
    anchor_enabled: bool = False
    anchor_interval_seconds: float = 60.0
    anchor_min_new_entries: int = 1
    anchor_confirmations: int = 1
    anchor_max_lag_seconds: float = 600.0
    anchor_replace_after_seconds: float = 120.0
    anchor_max_gas_price_gwei: float = 500.0
    anchor_chains: tuple[ChainConfig, ...] = ()

    @property
    def pki_dir(self) -> Path:
        """The PKI folder (``notary pki init``): TSA key, log signing key, ``log.vkey``."""
        return self.tsa_pki_dir if self.tsa_pki_dir is not None else self.data_dir / "pki"

    @property
    def log_vkey_path(self) -> Path:
        """The log's C2SP note verifier key, as courts and clients need it."""
        return self.pki_dir / "log.vkey"

    @property
    def tls_cert_path(self) -> Path:
        """The server's TLS certificate (PEM), by default the PKI's ``server.pem``."""
        return self.tls_cert_file or self.pki_dir / "server.pem"

    @property
    def tls_key_path(self) -> Path:
        """The server's TLS private key (PEM), by default the PKI's ``server.key``."""
        return self.tls_key_file or self.pki_dir / "server.key"

    @property
    def tls_client_ca_paths(self) -> tuple[Path, ...]:
        """The CAs whose client certificates TLS accepts, by default the PKI's root."""
        return self.tls_client_ca_files or (self.pki_dir / "root-ca.pem",)

    @property
    def operator_cert_path(self) -> Path:
        """The operator's client certificate, registered as the admin "operator" at first start."""
        return self.admin_operator_cert_file or self.pki_dir / "operator.pem"

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL of the store (SQLite under the data folder by default)."""
        return self.store_url or f"sqlite:///{self.data_dir / 'gateway.sqlite3'}"

    @property
    def tsa_state_dir(self) -> Path:
        """Where the in-process TSA keeps its serial-number leases.

        The same folder `notary serve` uses by default (``<data_dir>/notary``), so
        the in-process engine and an HTTP notary on the same PKI share one serial
        space (leases are taken under a file lock).
        """
        return self.data_dir / "notary"

    def check_serving(self) -> None:
        """Refuse configurations the server must not start with.

        The gateway serves mutual TLS unless ``insecure_dev`` is on; plaintext
        gRPC (development only) needs a loopback listen address. The TLS files
        are checked when they are read (:mod:`gateway.tls`).
        """
        host, _ = parse_listen(self.listen)
        if not self.insecure_dev:
            return
        if not is_loopback(host):
            raise ConfigError(
                f"refusing to serve plaintext gRPC on {self.listen}: development mode "
                "(insecure_dev) only listens on a loopback address (127.0.0.1, ::1 or "
                f"localhost); use e.g. listen = {DEFAULT_LISTEN!r}"
            )


# (section, key) -> (attribute, kind)
_KEYS: dict[tuple[str, str], tuple[str, str]] = {
    ("", "listen"): ("listen", "str"),
    ("", "data_dir"): ("data_dir", "path"),
    ("", "insecure_dev"): ("insecure_dev", "bool"),
    ("", "dev_institution"): ("dev_institution", "str"),
    ("", "health_poll_seconds"): ("health_poll_seconds", "float"),
    ("", "certificate_warning_days"): ("certificate_warning_days", "float"),
    ("", "max_concurrent_rpcs"): ("max_concurrent_rpcs", "int"),
    ("", "max_calls_per_institution"): ("max_calls_per_institution", "int"),
    ("", "min_occurred_at"): ("min_occurred_at", "time"),
    ("store", "url"): ("store_url", "str"),
    ("tsa", "urls"): ("tsa_urls", "strs"),
    ("tsa", "ca_files"): ("tsa_ca_files", "paths"),
    ("tsa", "pki_dir"): ("tsa_pki_dir", "path?"),
    ("tsa", "processes"): ("tsa_processes", "int"),
    ("tls", "cert_file"): ("tls_cert_file", "path?"),
    ("tls", "key_file"): ("tls_key_file", "path?"),
    ("tls", "client_ca_files"): ("tls_client_ca_files", "paths"),
    ("admin", "operator_cert_file"): ("admin_operator_cert_file", "path?"),
    ("log", "max_batch"): ("log_max_batch", "int"),
    ("log", "max_wait_ms"): ("log_max_wait_ms", "float"),
    ("log", "wait_when_idle"): ("log_wait_when_idle", "bool"),
    ("log", "max_queue"): ("log_max_queue", "int"),
    ("log", "max_queue_age_seconds"): ("log_max_queue_age_seconds", "float"),
    ("metrics", "listen"): ("metrics_listen", "str"),
    ("logging", "format"): ("logging_format", "str"),
    ("logging", "calls"): ("logging_calls", "bool"),
    ("grpc", "keepalive_time_seconds"): ("grpc_keepalive_time_seconds", "float"),
    ("grpc", "keepalive_timeout_seconds"): ("grpc_keepalive_timeout_seconds", "float"),
    ("grpc", "min_client_ping_interval_seconds"): (
        "grpc_min_client_ping_interval_seconds",
        "float",
    ),
    ("grpc", "client_ping_without_calls"): ("grpc_client_ping_without_calls", "bool"),
    ("grpc", "max_connection_idle_seconds"): ("grpc_max_connection_idle_seconds", "float"),
    ("grpc", "max_connection_age_seconds"): ("grpc_max_connection_age_seconds", "float"),
    ("grpc", "max_connection_age_grace_seconds"): (
        "grpc_max_connection_age_grace_seconds",
        "float",
    ),
    ("grpc", "max_concurrent_streams"): ("grpc_max_concurrent_streams", "int"),
    ("stream", "idle_seconds"): ("stream_idle_seconds", "float"),
    ("stream", "buffer_bytes"): ("stream_buffer_bytes", "int"),
    ("stream", "buffer_bytes_per_institution"): ("stream_buffer_bytes_per_institution", "int"),
    ("stream", "stalled_write_seconds"): ("stream_stalled_write_seconds", "float"),
    ("shutdown", "grace_seconds"): ("shutdown_grace_seconds", "float"),
    ("cases", "heartbeat_seconds"): ("cases_heartbeat_seconds", "float"),
    ("anchor", "enabled"): ("anchor_enabled", "bool"),
    ("anchor", "interval_seconds"): ("anchor_interval_seconds", "float"),
    ("anchor", "min_new_entries"): ("anchor_min_new_entries", "int"),
    ("anchor", "confirmations"): ("anchor_confirmations", "int"),
    ("anchor", "max_lag_seconds"): ("anchor_max_lag_seconds", "float"),
    ("anchor", "replace_after_seconds"): ("anchor_replace_after_seconds", "float"),
    ("anchor", "max_gas_price_gwei"): ("anchor_max_gas_price_gwei", "float"),
    ("anchor", "chains"): ("anchor_chains", "chains"),
}


def _env_name(section: str, key: str) -> str:
    return "GATEWAY_" + (f"{section}_{key}" if section else key).upper()


def _name(section: str, key: str) -> str:
    return f"{section}.{key}" if section else key


def _convert(value: Any, kind: str, where: str, base: Path | None) -> Any:
    def path(v: Any) -> Path:
        if not isinstance(v, str) or not v:
            raise ConfigError(f"{where} must be a non-empty path string, got {v!r}")
        p = Path(v).expanduser()
        return p if p.is_absolute() or base is None else base / p

    from_env = isinstance(value, str) and base is None and kind not in ("str", "path", "path?")
    if kind == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off", ""):
            return False
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if kind in ("int", "float"):
        try:
            if isinstance(value, bool):
                raise ValueError
            number = int(value) if kind == "int" else float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} must be a number ({kind}), got {value!r}") from None
        return number
    if kind == "time":
        return _time(value, where)
    if kind == "chains":
        return parse_chains(value, where, base, _convert)
    if kind == "path":
        return path(value)
    if kind == "path?":
        return None if value in ("", None) else path(value)
    if kind in ("strs", "paths"):
        if from_env:
            items: list[Any] = [v.strip() for v in value.split(",") if v.strip()]
        elif isinstance(value, list):
            items = value
        else:
            raise ConfigError(f"{where} must be a list of strings, got {value!r}")
        if kind == "strs":
            if not all(isinstance(v, str) and v for v in items):
                raise ConfigError(f"{where} must be a list of non-empty strings, got {value!r}")
            return tuple(items)
        return tuple(path(v) for v in items)
    raise AssertionError(kind)  # pragma: no cover


def _time(value: Any, where: str) -> datetime:
    """An RFC 3339 time with its offset (``2000-01-01T00:00:00Z``), or a TOML offset date-time."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            value = None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ConfigError(
            f"{where} must be a date and time with its UTC offset, e.g. 2000-01-01T00:00:00Z"
        )
    return value.astimezone(UTC)


def _from_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    base = path.parent
    values: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            for sub, subvalue in value.items():
                _take(values, key, sub, subvalue, path, base)
        else:
            _take(values, "", key, value, path, base)
    return values


def _take(
    values: dict[str, Any], section: str, key: str, value: Any, path: Path, base: Path
) -> None:
    spec = _KEYS.get((section, key))
    if spec is None:
        known = ", ".join(sorted(_name(s, k) for s, k in _KEYS))
        raise ConfigError(f"{path}: unknown key {_name(section, key)!r} (known keys: {known})")
    attribute, kind = spec
    values[attribute] = _convert(value, kind, f"{path}: {_name(section, key)}", base)


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for (section, key), (attribute, kind) in _KEYS.items():
        name = _env_name(section, key)
        if name in environ:
            values[attribute] = _convert(environ[name], kind, f"environment {name}", None)
    return values


def load_config(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    insecure_dev: bool | None = None,
) -> GatewayConfig:
    """Read the file (if any), apply the environment and flags, and check the values."""
    values: dict[str, Any] = {}
    if path is not None:
        values.update(_from_file(path))
    values.update(_from_env(os.environ if environ is None else environ))
    if insecure_dev is not None and insecure_dev:
        values["insecure_dev"] = True
    known = {f.name for f in fields(GatewayConfig)}
    config = replace(GatewayConfig(), **{k: v for k, v in values.items() if k in known})
    _check(config)
    return config


def _check(config: GatewayConfig) -> None:
    parse_listen(config.listen)
    for _, problem in validate_institution(config.dev_institution, "dev_institution"):
        raise ConfigError(f"dev_institution {config.dev_institution!r} {problem}")
    if config.tsa_processes < 0:
        raise ConfigError(f"tsa.processes must be 0 (threads) or more, got {config.tsa_processes}")
    if config.log_max_batch < 1:
        raise ConfigError(f"log.max_batch must be at least 1, got {config.log_max_batch}")
    if config.log_max_wait_ms < 0:
        raise ConfigError(f"log.max_wait_ms must not be negative, got {config.log_max_wait_ms}")
    if config.log_max_queue < config.log_max_batch:
        raise ConfigError(
            f"log.max_queue ({config.log_max_queue}) must be at least log.max_batch "
            f"({config.log_max_batch})"
        )
    if config.max_concurrent_rpcs < 1:
        raise ConfigError(
            f"max_concurrent_rpcs must be at least 1, got {config.max_concurrent_rpcs}"
        )
    if config.max_calls_per_institution < 0:
        raise ConfigError(
            "max_calls_per_institution must be 0 (a quarter of max_concurrent_rpcs) or "
            f"positive, got {config.max_calls_per_institution}"
        )
    if config.health_poll_seconds <= 0:
        raise ConfigError("health_poll_seconds must be positive")
    if config.min_occurred_at > datetime.now(UTC):
        raise ConfigError(
            f"min_occurred_at ({config.min_occurred_at.isoformat()}) is in the future: "
            "the gateway would refuse every submission"
        )
    if config.certificate_warning_days < 0:
        raise ConfigError("certificate_warning_days must not be negative")
    _check_transport(config)
    _check_operations(config)
    for url in config.tsa_urls:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"tsa.urls: {url!r} is not an http:// or https:// URL")
    check_anchor(config)


def _check_transport(config: GatewayConfig) -> None:
    from gateway.api.stream_budget import READ_SLOT_BYTES

    for name in ("keepalive_time_seconds", "keepalive_timeout_seconds"):
        if getattr(config, f"grpc_{name}") <= 0:
            raise ConfigError(f"grpc.{name} must be positive")
    for name in (
        "min_client_ping_interval_seconds",
        "max_connection_idle_seconds",
        "max_connection_age_seconds",
        "max_connection_age_grace_seconds",
    ):
        if getattr(config, f"grpc_{name}") < 0:
            raise ConfigError(f"grpc.{name} must not be negative (0 turns the limit off)")
    if config.grpc_max_concurrent_streams < 1:
        raise ConfigError("grpc.max_concurrent_streams must be at least 1")
    if config.shutdown_grace_seconds < 0:
        raise ConfigError("shutdown.grace_seconds must not be negative")
    if config.stream_idle_seconds < 0:
        raise ConfigError("stream.idle_seconds must not be negative (0 turns the limit off)")
    least = config.max_concurrent_rpcs * READ_SLOT_BYTES
    if config.stream_buffer_bytes < least:
        raise ConfigError(
            f"stream.buffer_bytes ({config.stream_buffer_bytes:,}) must be at least "
            f"max_concurrent_rpcs x {READ_SLOT_BYTES:,} = {least:,} bytes, so that every call "
            "in progress can read its next message"
        )
    _check_stream_share(config)
    if config.stream_stalled_write_seconds <= 0:
        raise ConfigError(
            "stream.stalled_write_seconds must be positive: a stream whose client does not "
            f"read its answers must end, got {config.stream_stalled_write_seconds}"
        )


def _check_stream_share(config: GatewayConfig) -> None:
    from gateway.api.call_limit import per_institution_default
    from gateway.api.stream_budget import READ_SLOT_BYTES, share_default

    share = config.stream_buffer_bytes_per_institution
    if share < 0:
        raise ConfigError(
            "stream.buffer_bytes_per_institution must be 0 (a quarter of stream.buffer_bytes) "
            f"or positive, got {share}"
        )
    effective = share or share_default(config.stream_buffer_bytes)
    said = f"{effective:,}" if share else f"0: a quarter of stream.buffer_bytes, {effective:,}"
    if effective > config.stream_buffer_bytes:
        raise ConfigError(
            f"stream.buffer_bytes_per_institution ({said}) must be at most "
            f"stream.buffer_bytes ({config.stream_buffer_bytes:,})"
        )
    calls = min(
        config.max_calls_per_institution or per_institution_default(config.max_concurrent_rpcs),
        config.max_concurrent_rpcs,
    )
    least = calls * READ_SLOT_BYTES
    if effective < least:
        raise ConfigError(
            f"stream.buffer_bytes_per_institution ({said}) must be at least "
            f"max_calls_per_institution x {READ_SLOT_BYTES:,} = {least:,} bytes, so that "
            "every call of one institution can read its next message"
        )


def _check_operations(config: GatewayConfig) -> None:
    if not 1 <= config.cases_heartbeat_seconds <= 3600:
        raise ConfigError(
            f"cases.heartbeat_seconds must be from 1 to 3600, got {config.cases_heartbeat_seconds}"
        )
    if config.log_max_queue_age_seconds < 0:
        raise ConfigError("log.max_queue_age_seconds must not be negative (0 turns it off)")
    if config.logging_format not in ("text", "json"):
        raise ConfigError(f"logging.format must be text or json, got {config.logging_format!r}")
    if config.metrics_listen:
        try:
            host, _ = parse_listen(config.metrics_listen)
        except ConfigError as exc:
            raise ConfigError(f"metrics.listen: {exc.message}") from None
        if config.insecure_dev and not is_loopback(host):
            raise ConfigError(
                f"metrics.listen {config.metrics_listen!r}: development mode serves metrics "
                "on a loopback address only (no TLS); use e.g. 127.0.0.1:9464"
            )


def parse_listen(listen: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (IPv6 as ``[::1]:PORT``) into host and port."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ConfigError(f"listen address {listen!r} is not HOST:PORT (e.g. {DEFAULT_LISTEN})")
    port = int(port_text)
    if port > 65535:
        raise ConfigError(f"listen address {listen!r}: port {port} is above 65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
