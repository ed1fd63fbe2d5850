"""ADVERSARIAL review tests (issue 10): reuse the real-ledger bundles and dossiers."""

from tests.unit.court.bundles.conftest import made

__all__ = ["made"]
