"""`notary anchor deploy --address-file` against a real anvil: a recorded address is kept
only when the code there is the EvidenceAnchor artifact's; other code is a clear error
(a look-alike contract is never taken for ours); no code there (a new chain) deploys anew.
The RPC URL's password is used (basic authentication) but never printed."""

from __future__ import annotations

from pathlib import Path

from gateway.anchor.contract import load_artifact
from tests.support.anvil import Anvil
from tests.support.gateway_proc import make_pki, notary

_SECRET = "s3cretPW"


def _deploy_args(anvil: Anvil, tmp_path: Path) -> list[str]:
    pki = tmp_path / "pki"
    make_pki(pki)
    key = tmp_path / "deployer.key"
    notary("anchor", "init", "--out", str(key))
    rpc = anvil.rpc_url.replace("http://", f"http://alice:{_SECRET}@") + "/"
    return ["anchor", "deploy", "--rpc", rpc, "--key", str(key), "--pki", str(pki)]


def test_a_recorded_address_with_other_code_is_refused(anvil: Anvil, tmp_path: Path) -> None:
    deploy = _deploy_args(anvil, tmp_path)
    record = tmp_path / "contract"
    look_alike = "0x" + "42" * 20
    record.write_text(look_alike + "\n")
    anvil.rpc("anvil_setCode", look_alike, "0x60006000fd")  # revert(0, 0)
    refused = notary(*deploy, "--address-file", str(record), "--dev-balance", "5", check=False)
    assert refused.returncode == 1, refused
    assert "is not the EvidenceAnchor contract" in refused.stderr
    assert "remove the file" in refused.stderr
    assert record.read_text().strip() == look_alike  # untouched
    assert _SECRET not in refused.stdout + refused.stderr

    # The artifact's own runtime code there (not holding this log): a new contract.
    runtime = "0x" + load_artifact().deployed_bytecode.hex()
    anvil.rpc("anvil_setCode", look_alike, runtime)
    replaced = notary(*deploy, "--address-file", str(record), "--dev-balance", "5")
    assert "does not hold this log: deploying" in replaced.stdout
    address = record.read_text().strip()
    assert address.lower() != look_alike
    kept = notary(*deploy, "--address-file", str(record))
    assert "already anchors this log" in kept.stdout and record.read_text().strip() == address
    for out in (replaced, kept):
        assert _SECRET not in out.stdout + out.stderr
    assert 'rpc_url = "..."' in replaced.stdout and "written out in full" in replaced.stdout


def test_a_recorded_address_without_code_deploys_anew(anvil: Anvil, tmp_path: Path) -> None:
    """A chain started afresh (its state lost) while the address file stayed."""
    deploy = _deploy_args(anvil, tmp_path)
    record = tmp_path / "contract"
    record.write_text("0x" + "42" * 20 + "\n")
    fresh = notary(*deploy, "--address-file", str(record), "--dev-balance", "5")
    assert "no contract at 0x4242" in fresh.stdout and "deploying" in fresh.stdout
    assert record.read_text().strip().lower() != "0x" + "42" * 20
    assert _SECRET not in fresh.stdout + fresh.stderr
