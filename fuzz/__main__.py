"""Run one fuzz target: ``python -m fuzz TARGET [--seconds N | --runs N]``.

The seeds in ``fuzz/corpus/TARGET`` are read (never written); what the fuzzer
finds is kept in ``--work`` (default ``fuzz/work/TARGET``, not committed), and a
crashing, hanging or memory-hungry input is saved in ``--artifacts`` (default
``fuzz/findings/``) as ``crash-*``, ``timeout-*`` or ``oom-*``. Exit status 0:
no finding in the time given. ``python -m fuzz --list`` names the targets;
``python -m fuzz TARGET FILE...`` replays those inputs only.
Other ``-name=value`` arguments go to libFuzzer as they are (e.g. ``-jobs=2``).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import atheris

HERE = Path(__file__).resolve().parent
#: Instrumented for coverage: the parsers (court.der, court.evidence, court.verify, ...)...
INSTRUMENTED = ["court", "notary.tsa"]
#: ... and, for the targets that read protobuf JSON, the JSON mapping (slower to start).
_JSON = "google.protobuf.json_format"
JSON_TARGETS = {t: [_JSON] for t in ("bundle", "dossier", "bundle_verify", "dossier_verify")}
RSS_LIMIT_MB = 2048
"""The whole process's resident memory bound (libFuzzer's -rss_limit_mb)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.split("\n\n")[0])
    p.add_argument("target", nargs="?", help="the target to run (see --list)")
    p.add_argument("inputs", nargs="*", type=Path, help="replay only these files")
    p.add_argument("--list", action="store_true", help="print the targets' names and exit")
    p.add_argument("--seconds", type=int, default=60, help="run time (default 60)")
    p.add_argument("--runs", type=int, help="stop after this many inputs instead")
    p.add_argument("--work", type=Path, help="corpus the fuzzer grows (fuzz/work/TARGET)")
    p.add_argument("--artifacts", type=Path, help="where findings go (fuzz/findings)")
    return p


def main(argv: list[str] | None = None) -> None:
    args, rest = _parser().parse_known_args(argv)
    unknown = [a for a in rest if not a.startswith("-") or a.startswith("--")]
    if unknown:
        sys.exit(f"python -m fuzz: unknown arguments {unknown}; libFuzzer flags are -name=value")
    if args.list:
        from fuzz.targets import TARGETS as ALL

        print("\n".join(ALL))
        return
    extra = JSON_TARGETS.get(args.target or "", [])
    with atheris.instrument_imports(include=[*INSTRUMENTED, *extra]):
        from fuzz.targets import TARGETS, TIME_LIMIT_SECONDS, run_one
    if args.target not in TARGETS:
        sys.exit(f"python -m fuzz: unknown target {args.target!r}; one of {', '.join(TARGETS)}")
    target = TARGETS[args.target]
    seeds = target.corpus
    work = args.work or HERE / "work" / target.name
    artifacts = args.artifacts or HERE / "findings"
    work.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    flags = [
        f"-max_total_time={args.seconds}",
        f"-max_len={target.max_len}",
        # A real hang never returns to run_one's clock: libFuzzer's own alarm (wall clock,
        # generous for a loaded machine) catches it.
        f"-timeout={math.ceil(TIME_LIMIT_SECONDS) * 30}",
        f"-rss_limit_mb={RSS_LIMIT_MB}",
        f"-artifact_prefix={artifacts}/{target.name}-",
        "-print_final_stats=1",
    ]
    if args.runs is not None:
        flags.append(f"-runs={args.runs}")
    # libFuzzer adds new inputs to the first corpus folder; the seeds come second.
    # Files instead of folders: libFuzzer runs each once.
    corpus = [str(p) for p in args.inputs] or [str(work), str(seeds)]
    atheris.Setup(
        [sys.argv[0], *flags, *rest, *corpus],
        lambda data: run_one(target, data, artifacts),
    )
    atheris.Fuzz()


if __name__ == "__main__":
    main()
