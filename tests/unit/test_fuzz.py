"""Each atheris fuzz target (fuzz/targets.py) runs for a few seconds without a finding.

All targets start at once, each in its own process (atheris runs one target per
process and exits), for a bounded time (-max_total_time), from the committed
seeds; libFuzzer's report must show the run finished (``Done N runs``), that
the seeds were read and coverage was seen, and no crash, timeout or
out-of-memory. The longer runs are ``make fuzz`` (fuzz/README.md).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECONDS = 3
TARGETS = [
    "bundle",
    "bundle_verify",
    "case_event",
    "checkpoint",
    "dossier",
    "dossier_verify",
    "leaf",
    "loan_head_proof",
    "private_record",
    "tsa_request",
]


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str
    findings: list[Path]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    base = tmp_path_factory.mktemp("fuzz")
    procs: dict[str, tuple[subprocess.Popen[str], Path]] = {}
    try:
        for target in TARGETS:
            artifacts = base / target / "findings"
            command = [
                sys.executable,
                "-m",
                "fuzz",
                target,
                f"--seconds={SECONDS}",
                f"--work={base / target / 'work'}",
                f"--artifacts={artifacts}",
            ]
            procs[target] = (
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                ),
                artifacts,
            )
        results = {}
        for target, (proc, artifacts) in procs.items():
            output, _ = proc.communicate(timeout=SECONDS + 120)
            found = sorted(artifacts.iterdir()) if artifacts.exists() else []
            results[target] = Run(proc.returncode, output, found)
        yield results
    finally:
        for proc, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_every_target_has_seeds_and_is_run() -> None:
    from fuzz.targets import TARGETS as REGISTERED

    assert sorted(REGISTERED) == TARGETS
    for target in REGISTERED.values():
        assert any(target.corpus.iterdir()), target.name
    used = {t.corpus.name for t in REGISTERED.values()}
    assert used == {p.name for p in (ROOT / "fuzz" / "corpus").iterdir()}


@pytest.mark.parametrize("target", TARGETS)
def test_target_runs_without_a_finding(runs: dict[str, Run], target: str) -> None:
    run = runs[target]
    tail = run.output[-4000:]
    assert run.returncode == 0, f"atheris reported a finding for {target}:\n{tail}"
    assert not run.findings, f"{target} left findings {run.findings}:\n{tail}"
    for word in ("Uncaught Python exception", "ERROR: libFuzzer", "out-of-memory", "timeout"):
        assert word not in run.output, f"{target}: {word!r} in atheris's output:\n{tail}"
    done = re.search(r"^Done (\d+) runs in", run.output, re.M)
    assert done, f"{target}: atheris did not finish its run:\n{tail}"
    from fuzz.targets import TARGETS as REGISTERED

    seeds = len(list(REGISTERED[target].corpus.iterdir()))
    assert int(done.group(1)) > 10 * seeds, f"{target}: too few inputs tried:\n{tail}"
    cov = re.search(r"#\d+\s+DONE\s+cov: (\d+)", run.output)
    assert cov and int(cov.group(1)) > 0, f"{target}: no coverage seen (not instrumented?)"
