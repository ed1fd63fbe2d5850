"""The README documents what `make run` takes and claims only what is built."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_make_run_variable_is_documented() -> None:
    makefile = (ROOT / "Makefile").read_text()
    run_recipe = makefile[makefile.index("\nrun:") :].split("\n\n")[0]
    variables = [
        name for name in re.findall(r"^([A-Z_]+) \?=", makefile, re.M) if f"$({name})" in run_recipe
    ]
    assert {"GATEWAY_LISTEN", "NOTARY_LISTEN", "DATA_DIR"} <= set(variables)
    for name in variables:
        default = re.search(rf"^{name} \?= (\S+)", makefile, re.M)
        assert default is not None
        row = re.search(rf"^\| `{name}` \| `([^`]*)` \|", README, re.M)
        assert row, f"README.md does not document `make run`'s {name}"
        assert row.group(1) == default.group(1), f"README gives another default for {name}"


def test_chain_anchoring_is_claimed_as_built() -> None:
    # The contract, the chain client, the worker, its commands and the court's check
    # exist: the README names them, and no longer calls anchoring planned.
    for built in (
        "contracts/EvidenceAnchor.sol",
        "gateway/anchor/chain.py",
        "gateway/anchor/worker.py",
        "court/chainrpc.py",
    ):
        assert (ROOT / built).exists(), built
        assert f"`{built.rsplit('/', 1)[0]}" in README or f"`{built}`" in README, built
    assert (ROOT / "notary" / "anchor_cmd.py").exists()
    assert (ROOT / "docs" / "anchoring.md").exists() and "docs/anchoring.md" in README
    paragraphs = [p for p in README.split("\n\n") if re.search(r"\banchor", p, re.I)]
    assert any("notary anchor status" in p for p in paragraphs)
    for paragraph in paragraphs:
        assert "planned" not in paragraph and "not built yet" not in paragraph, paragraph


def test_the_court_anchor_line_parses() -> None:
    from court.cli import build_parser

    line = re.search(r"court-verify (receipt .*--anchor .*)", README.replace("\\\n", " "))
    assert line, "README must show court-verify receipt with --anchor"
    address = "0x" + "ab" * 20
    args = build_parser().parse_args(
        shlex.split(line.group(1).replace('"$(cat data/anchor/contract)"', address))
    )
    assert (args.anchor, args.rpc, args.contract) == (
        Path("anchor.pb"),
        "http://127.0.0.1:8545",
        address,
    )


def test_the_python_example_is_the_one_make_run_prints() -> None:
    from notary.client_certs import client_files
    from notary.institution_cmd import python_example

    match = re.search(r"<<'PY'\n(.*?)\nPY\n", README, re.DOTALL)
    assert match, "README must hold the Python example between <<'PY' and PY"
    printed = python_example(
        "127.0.0.1:50051",
        Path("data/pki/root-ca.pem"),
        client_files(Path("data/institutions"), "dev-bank"),
    )
    assert match.group(1) == printed
