"""What storing a token without its certificates costs per token, and what it saves.

Run: ``.venv/bin/python -m bench.tokenpack [--tokens 2000] [--rounds 5]``.

Issues ``--tokens`` real tokens with the notary engine on a fresh development
PKI (as the gateway's in-process TSA does), then times, as medians of
``--rounds`` in CPU time of this thread (``time.thread_time``: on a shared
machine wall time mostly measures the others), the two halves of
:mod:`gateway.store.token_sets` that run per token: the write's
:meth:`~gateway.store.token_sets.TokenColumn.pack` (strip, the lossless check,
deflate against the set's template, the column's bytes; the set already
numbered, as for every token but a TSA's first) and the read's
:meth:`~gateway.store.token_sets.TokenColumn.token` (decode, inflate and
splice). It prints the bytes of a token and of its column value.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from pathlib import Path

from gateway.store import token_pack
from gateway.store.token_sets import TokenColumn
from notary.pki import init_pki
from notary.serve import build_authority


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tokenpack-") as tmp:
        folder = Path(tmp)
        init_pki(folder / "pki")
        tsa = build_authority(folder / "pki", folder / "notary")
        tokens = [
            tsa.issue("sha256", hashlib.sha256(b"%d" % i).digest()).token
            for i in range(args.tokens)
        ]
    column = TokenColumn("?", lambda sql, params: [])
    first = column.pack(tokens[:1])
    cut = token_pack.strip(tokens[0])
    assert cut is not None and first.pending
    first.numbered[cut[1]] = 1
    first.templates[1] = cut[0]
    column.committed(
        first
    )  # the TSA's set is numbered, with its template, as after its first batch

    packs, reads = [], []
    values: list[bytes] = []
    for _ in range(args.rounds):
        started = time.thread_time()
        values = column.pack(tokens).values
        packs.append((time.thread_time() - started) / len(tokens))
        started = time.thread_time()
        back = [column.token(i, v) for i, v in enumerate(values)]
        reads.append((time.thread_time() - started) / len(tokens))
        assert back == tokens
    token_bytes = statistics.mean(len(t) for t in tokens)
    stored_bytes = statistics.mean(len(v) for v in values)
    print(f"{len(tokens):,} tokens of the in-process TSA, medians of {args.rounds} rounds:")
    print(f"  pack (write) {statistics.median(packs) * 1e6:7.2f} µs of CPU per token")
    print(f"  read back    {statistics.median(reads) * 1e6:7.2f} µs of CPU per token")
    print(
        f"  token {token_bytes:,.1f} B, stored {stored_bytes:,.1f} B, "
        f"certificate set {len(cut[1]):,} B (stored once)"
    )


if __name__ == "__main__":
    main()
