"""bench.court_bundle runs end to end (small sizes) and prints both figures."""

from __future__ import annotations

import re

import pytest

from bench import court_bundle


def test_the_bench_prints_bundle_and_dossier_figures(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BENCH_BUNDLE_RUNS", "5")
    monkeypatch.setenv("BENCH_DOSSIER_RECORDS", "30")
    court_bundle.main()
    out = capsys.readouterr().out
    assert re.search(r"court bundle verification: p50 [\d.]+ ms, p99 [\d.]+ ms over 5 runs", out)
    found = re.search(
        r"court dossier verification: 30 records in \d+ ms .*signature checks: (\d+)", out
    )
    assert found and found.group(1) == "1", out  # one TSA: its chain checked once
