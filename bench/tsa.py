"""`make bench` for the notary: signatures/s vs tokens/s vs HTTP requests/s.

Everything is measured in one run on this machine, as medians of repeated
rounds, and reported with ratios of figures taken side by side (the machine
is shared and noisy, so absolute numbers drift; ratios much less).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench.loadclient import run_load
from notary.client import build_request
from notary.pki import init_pki, load_tsa_signing_material
from notary.tsa.config import DEFAULT_POLICY_OID
from notary.tsa.engine import TimeStampAuthority
from notary.tsa.serial import LeasedSerials
from notary.tsa.signer import KeySigner

ROUNDS = 5


def _rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of `fn` over about `seconds`, in batches to keep timing cheap."""
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(50):
            fn()
        count += 50
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def _side_by_side(
    a: Callable[[], object], b: Callable[[], object], seconds: float, rounds: int
) -> tuple[float, float]:
    """Medians of alternating rounds of a and b."""
    ra, rb = [], []
    for _ in range(rounds):
        ra.append(_rate(a, seconds))
        rb.append(_rate(b, seconds))
    return statistics.median(ra), statistics.median(rb)


def _engine(pki: Path, state: Path) -> tuple[TimeStampAuthority, KeySigner]:
    key, cert, _ = load_tsa_signing_material(pki)
    signer = KeySigner(key, cert)
    return TimeStampAuthority(signer, LeasedSerials(state)), signer


def bench_engine(work: Path, key_type: str, seconds: float, rounds: int) -> dict[str, float]:
    pki = work / f"pki-{key_type}"
    init_pki(pki, key_type=key_type)  # type: ignore[arg-type]
    engine, signer = _engine(pki, work / f"state-{key_type}")
    request = build_request(hashlib.sha256(b"bench").digest(), "sha256", nonce=0x0123456789ABCDEF)
    attrs_like = os.urandom(200)  # signed attributes are about this long
    sign = lambda: signer.sign(attrs_like)  # noqa: E731
    respond = lambda: engine.respond(request)  # noqa: E731
    digest = os.urandom(32)
    issue = lambda: engine.issue("sha256", digest)  # noqa: E731
    raw, via_request = _side_by_side(sign, respond, seconds, rounds)
    raw2, in_process = _side_by_side(sign, issue, seconds, rounds)
    return {
        "raw": raw,
        "respond": via_request,
        "respond_ratio": via_request / raw,
        "raw2": raw2,
        "issue": in_process,
        "issue_ratio": in_process / raw2,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(100):
        if proc.poll() is not None:
            raise SystemExit(f"notary serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("notary serve did not become healthy")


def _load_worker(args: tuple[int, bytes, float, int]) -> tuple[float, set[bytes]]:
    port, body, seconds, connections = args
    return run_load("127.0.0.1", port, body, seconds, connections)


def bench_http(work: Path, seconds: float, rounds: int) -> tuple[float, int]:
    pki = work / "pki-p256"
    port = _free_port()
    notary = Path(sys.executable).with_name("notary")
    proc = subprocess.Popen(
        [
            str(notary),
            "serve",
            "--pki",
            str(pki),
            "--listen",
            f"127.0.0.1:{port}",
            "--state-dir",
            str(work / "state-http"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/", proc)
        body = build_request(hashlib.sha256(b"bench over http").digest(), "sha256", nonce=7)
        rates = []
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:
            for _ in range(rounds):
                rate, statuses = pool.apply(_load_worker, ((port, body, seconds, 32),))
                if statuses != {b"200"}:
                    raise SystemExit(f"unexpected HTTP statuses {statuses}")
                rates.append(rate)
        return statistics.median(rates), 32
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def bench_openssl(work: Path, seconds: float) -> float:
    """`openssl ts -reply` run once per request, with the same P-256 TSA key."""
    pki = work / "pki-p256"
    (work / "serial").write_text("01\n")
    config = work / "openssl-tsa.cnf"
    config.write_text(
        "[ tsa ]\ndefault_tsa = tsa_config1\n[ tsa_config1 ]\n"
        f"serial = {work / 'serial'}\ncrypto_device = builtin\n"
        f"signer_cert = {pki / 'tsa.pem'}\nsigner_key = {pki / 'tsa.key'}\n"
        f"signer_digest = sha256\ndefault_policy = {DEFAULT_POLICY_OID}\n"
        "digests = sha256, sha384, sha512\naccuracy = secs:1\nordering = no\n"
        "tsa_name = yes\ness_cert_id_alg = sha256\n"
    )
    query = work / "q.tsq"
    query.write_bytes(build_request(hashlib.sha256(b"bench openssl").digest(), "sha256", nonce=9))
    reply = work / "r.tsr"
    cmd = [
        "openssl",
        "ts",
        "-reply",
        "-config",
        str(config),
        "-queryfile",
        str(query),
        "-out",
        str(reply),
    ]
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        subprocess.run(cmd, check=True, capture_output=True)
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    seconds = float(os.environ.get("BENCH_SECONDS", "1.0"))
    print(f"notary benchmark: {ROUNDS} rounds of {seconds:.1f} s, medians; one core per figure")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = []
        for key_type, target in (("p256", 0.35), ("rsa3072", 0.8)):
            r = bench_engine(work, key_type, seconds, ROUNDS)
            rows.append((key_type, r, target))
        http_rate, connections = bench_http(work, max(seconds * 3, 2.0), 3)
        openssl_rate = bench_openssl(work, max(seconds * 3, 2.0))

    print()
    print(
        f"{'key':<9}{'raw sig/s':>11}{'tokens/s':>11}{'ratio':>8}"
        f"{'in-proc/s':>11}{'ratio':>8}   target"
    )
    for key_type, r, target in rows:
        verdict = "ok" if r["respond_ratio"] >= target else "BELOW TARGET"
        print(
            f"{key_type:<9}{r['raw']:>11,.0f}{r['respond']:>11,.0f}{r['respond_ratio']:>8.2f}"
            f"{r['issue']:>11,.0f}{r['issue_ratio']:>8.2f}   ≥ {target} ({verdict})"
        )
    print(
        "  tokens/s: engine.respond(DER TimeStampReq) -> DER TimeStampResp, request parsing"
        " included;\n  in-proc/s: engine.issue(sha256 digest), the gateway's path."
    )
    print()
    print(
        f"HTTP  notary serve, P-256, {connections} keep-alive connections on loopback: "
        f"{http_rate:,.0f} requests/s (target ≥ 3,000)"
    )
    print(
        f"HTTP  baseline: openssl ts -reply run per request: {openssl_rate:,.0f} tokens/s "
        f"(ratio {http_rate / openssl_rate:,.1f}x)"
    )


if __name__ == "__main__":
    main()
