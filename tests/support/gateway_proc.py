"""A real `gateway serve` process for integration tests: start, kill, restart.

The gateway listens on a free loopback port (``listen = "127.0.0.1:0"``) and
prints the address it bound; the helper reads it from the process's output,
then waits until the health service says SERVING.

By default the gateway runs in development mode (``--insecure-dev``,
plaintext). With ``mtls=True`` it serves mutual TLS as in production: clients
connect with a certificate made by ``notary institution add``
(:func:`add_institution`) or the PKI's operator certificate.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.authz_matrix import Stubs
from tests.support.grpc_client import CHANNEL_OPTIONS
from tests.support.procs import BIN, descendants, reap_zombies, wait_gone

_LISTENING = re.compile(r"gRPC listening on (\S+)")
Option = tuple[str, int | str]


def make_pki(pki_dir: Path) -> None:
    """A development PKI made the way an operator makes it: `notary pki init`."""
    result = subprocess.run(
        [str(BIN / "notary"), "pki", "init", "--out", str(pki_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def notary(
    *args: str, gateway: GatewayProcess | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the `notary` CLI; with ``gateway``, against it (``--gateway``, ``--pki``)."""
    where = ["--gateway", gateway.address, "--pki", str(gateway.pki)] if gateway else []
    result = subprocess.run(
        [str(BIN / "notary"), *args, *where],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def identity_in(folder: Path, name: str) -> ClientIdentity:
    """The files `notary institution add NAME --out FOLDER` writes."""
    return ClientIdentity(folder / f"{name}.pem", folder / f"{name}.key")


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))  # a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def write_config(
    folder: Path,
    *,
    top: Mapping[str, object] | None = None,
    sections: Mapping[str, Mapping[str, object]] | None = None,
    **log: int | float,
) -> Path:
    """A config file with a relative data dir (``data``) next to it.

    ``top`` adds top-level keys, ``sections`` whole sections (``{"tsa": {...}}``);
    the keyword arguments are ``[log]`` keys.
    """
    values: dict[str, object] = {
        "listen": "127.0.0.1:0",
        "data_dir": "data",
        "health_poll_seconds": 0.2,
        **(top or {}),
    }
    lines = [f"{key} = {_toml(value)}" for key, value in values.items()]
    tables = {**(sections or {}), "log": {**(sections or {}).get("log", {}), **log}}
    for name, table in tables.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_toml(value)}" for key, value in table.items()]
    path = folder / "gateway.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass(frozen=True)
class ClientIdentity:
    """A client certificate and its key (PEM files)."""

    certificate: Path
    key: Path

    def credentials(self, root_ca: Path) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=root_ca.read_bytes(),
            private_key=self.key.read_bytes(),
            certificate_chain=self.certificate.read_bytes(),
        )


class GatewayProcess:
    """One `gateway serve --config FILE [--insecure-dev]` process at a time.

    ``mtls``: serve mutual TLS with the PKI in ``pki`` (default: the config's
    ``data/pki``); else development mode.
    """

    def __init__(
        self, config: Path, log_dir: Path, *, mtls: bool = False, pki: Path | None = None
    ) -> None:
        self.config = config
        self.mtls = mtls
        self.pki = pki or config.parent / "data" / "pki"
        self.operator = ClientIdentity(self.pki / "operator.pem", self.pki / "operator.key")
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.address = ""
        self.starts = 0
        self.log_path = log_dir / "gateway-0.log"

    def start(self, timeout: float = 30.0) -> str:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        self.log_path = self.log_dir / f"gateway-{self.starts}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    str(BIN / "gateway"),
                    "serve",
                    "--config",
                    str(self.config),
                    *(() if self.mtls else ("--insecure-dev",)),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.config.parent,
                env=env,
            )
        try:
            self._wait_started(time.monotonic() + timeout)
        except BaseException:
            self.kill()  # a gateway that failed to start is not left running
            raise
        return self.address

    def _wait_started(self, deadline: float) -> None:
        assert self.proc is not None
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"gateway serve exited {self.proc.returncode}: {self.log_path.read_text()}"
                )
            found = _LISTENING.search(self.log_path.read_text(errors="replace"))
            if found:
                self.address = found.group(1)
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway did not start: {self.log_path.read_text()}")
            time.sleep(0.02)
        self.wait_serving(deadline)

    def wait_serving(self, deadline: float) -> None:
        identity = self.operator if self.mtls else None
        with self.channel(identity=identity, own_connection=True) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                try:
                    status = stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                    if status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gateway not SERVING: {self.log_path.read_text()}")
                time.sleep(0.02)

    def channel(
        self,
        *,
        own_connection: bool = False,
        options: Sequence[Option] = (),
        identity: ClientIdentity | None = None,
        tls: bool | None = None,
    ) -> grpc.Channel:
        """A channel to the gateway. Channels with equal options share one connection
        (gRPC's global subchannel pool) unless ``own_connection``.

        With mutual TLS (``tls``, by default when the gateway serves it) the client
        presents ``identity``, or no certificate at all when it is ``None``.
        """
        extra = [("grpc.use_local_subchannel_pool", 1)] if own_connection else []
        all_options = [*CHANNEL_OPTIONS, *extra, *options]
        if not (self.mtls if tls is None else tls):
            return grpc.insecure_channel(self.address, options=all_options)
        root = (self.pki / "root-ca.pem").read_bytes()
        credentials = (
            identity.credentials(self.pki / "root-ca.pem")
            if identity is not None
            else grpc.ssl_channel_credentials(root_certificates=root)
        )
        return grpc.secure_channel(self.address, credentials, options=all_options)

    def add_institution(
        self, name: str, role: str, out: Path, *extra: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`notary institution add NAME --role ROLE` against this gateway, as operators run it."""
        return notary(
            "institution",
            "add",
            name,
            "--role",
            role,
            "--out",
            str(out),
            *extra,
            gateway=self,
            check=check,
        )

    def log_text(self, settle: float = 0.25, limit: float = 5.0) -> str:
        """The gateway's log so far, once it has stopped growing for ``settle`` seconds
        (at most ``limit``): the gateway writes its log lines from a thread of their own,
        off the calls' path, so a line about a call may land just after the call's answer.
        """
        deadline = time.monotonic() + limit
        text = self.log_path.read_text(errors="replace")
        while time.monotonic() < deadline:
            time.sleep(settle)
            again = self.log_path.read_text(errors="replace")
            if again == text:
                break
            text = again
        return text

    def kill(self) -> dict[int, str]:
        """SIGKILL: no shutdown code runs.

        Returns the processes the gateway had started (TSA workers, the
        multiprocessing resource tracker) that are still running 5 s later,
        pid -> command line: none, when they end with the gateway as they must.
        """
        assert self.proc is not None
        family = descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        left = wait_gone(family, timeout=5.0)
        reap_zombies(family)  # orphans are re-parented to the test session (its subreaper)
        return left

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc is not None else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise


@contextlib.contextmanager
def running(config: Path, log_dir: Path, *, mtls: bool = False) -> Iterator[GatewayProcess]:
    """A started :class:`GatewayProcess` of ``config``, killed (SIGKILL) on leaving."""
    process = GatewayProcess(config, log_dir, mtls=mtls)
    process.start()
    try:
        yield process
    finally:
        process.kill()


@contextlib.contextmanager
def institution_callers(
    gateway: GatewayProcess, who: Iterable[tuple[str, str]], out: Path
) -> Iterator[dict[str, Stubs]]:
    """Each (name, role) of ``who`` registered as an operator does it (its identity
    written to ``out``), calling on a connection of its own with its certificate:
    name -> its stubs. The channels close on leaving."""
    with contextlib.ExitStack() as stack:
        stubs = {}
        for name, role in who:
            gateway.add_institution(name, role, out)
            channel = stack.enter_context(
                gateway.channel(identity=identity_in(out, name), own_connection=True)
            )
            stubs[name] = Stubs.of(channel)
        yield stubs
