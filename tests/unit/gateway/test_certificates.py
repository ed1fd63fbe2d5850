"""gateway.certificates: which certificates expire within the warning window, said plainly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.certificates import describe, expiring
from notary.pki import init_pki, load_tsa_signing_material

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_expiring_lists_only_what_ends_within_the_window(tmp_path: Path) -> None:
    init_pki(tmp_path, now=NOW, validity_days={"tsa": 10, "root": 40})
    _, tsa, roots = load_tsa_signing_material(tmp_path)
    certs = [("TSA certificate", tsa), ("root certificate", roots[0])]
    [soon] = expiring(certs, NOW, timedelta(days=30))
    assert soon.role == "TSA certificate" and soon.subject.startswith("CN=")
    assert soon.not_after == NOW + timedelta(days=10)
    assert describe(soon, NOW) == (
        f"the TSA certificate {soon.subject} expires on 2030-01-12 03:04 UTC "
        "(in 10 days 0 hours): renew it before then"
    )
    assert len(expiring(certs, NOW, timedelta(days=45))) == 2
    assert expiring(certs, NOW, timedelta(days=5)) == []
    later = NOW + timedelta(days=11)
    assert "expired on 2030-01-12 03:04 UTC" in describe(soon, later)
    assert "renew it and restart the gateway" in describe(soon, later)
