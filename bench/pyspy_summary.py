"""Summarize a `py-spy record --format raw --threads` profile: where each thread's samples go.

Run: ``.venv/bin/python -m bench.pyspy_summary FILE [--thread NAME] [--top 25] [--depth N]``.

For each thread (worker processes counted as one "TSA workers" line) the
share of the samples; with ``--thread`` the functions of that thread with
the most samples *inclusive* (the function or anything it called), named
``function (file)``. ``bench.writepath --profile DIR`` writes such files.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_LINE = re.compile(r" \(([^:()]*):\d+\)$")


def _frames(stack: str) -> tuple[str, list[str]]:
    parts = stack.split(";")
    thread = "?"
    frames: list[str] = []
    workers = sum(1 for p in parts if p.startswith("process ")) > 1
    for p in parts:
        if p.startswith("process "):
            continue
        if p.startswith("thread ("):
            thread = "TSA workers" if workers else p.split(": ", 1)[-1]
            continue
        frames.append(_LINE.sub(r" (\1)", p))
    return re.sub(r"_\d+$", "", thread), frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--thread", default="")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    threads: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in args.file.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        thread, frames = _frames(stack)
        threads[thread] += n
        total += n
        if thread == args.thread and frames:
            for f in set(frames):
                inclusive[f] += n
            own[frames[-1]] += n
    for name, n in threads.most_common():
        print(f"{100 * n / total:5.1f}%  {name}")
    if args.thread:
        all_n = threads[args.thread]
        print(f"\n{args.thread}: {all_n} samples; inclusive / own share")
        for f, n in inclusive.most_common(args.top):
            print(f"  {100 * n / all_n:5.1f}% {100 * own[f] / all_n:5.1f}%  {f}")


if __name__ == "__main__":
    main()
