"""ADVERSARIAL (issue 10 review): a bundle's certificate states an unchecked correction.

``supersededBy`` of a bundle's record is outside every signature and no check of
a bundle looks at it (a bundle holds no other record), yet the certificate of a
VALID bundle prints it as a fact, "已被替代 / Superseded by: <ids>". A lender can
so make a court read a damaging record as corrected (naming any id), or drop a
real correction. Fixed: a bundle's certificate marks the claim, in both
languages, as stated by the file and not checked.
"""

from __future__ import annotations

import hashlib

from court.bundles import read_bundle
from court.report import certificate_text as t
from court.report.certificate_content import certificate_content
from court.report.certificate_of import bundle_certificate
from court.trust import read_trust_dir
from court.verify.bundle import verify_bundle
from court.verify.steps import Outcome
from tests.support.bundle_builder import to_json
from tests.unit.court.bundles.conftest import Made


def test_an_invented_correction_is_not_certified_as_fact(made: Made) -> None:
    message = made.bundle_copy()
    message.record.superseded_by.append("zzzzzzzzzzzzzzzzzzzzzzzzzz")  # no such record
    data = to_json(message)
    bundle = read_bundle(data)
    trust = read_trust_dir(made.trust)
    result = verify_bundle(bundle, roots=trust.roots, log_key=trust.log_key)
    assert result.outcome is Outcome.VALID  # nothing checks the claim
    content = certificate_content(
        bundle_certificate(
            result, bundle, input_name="b.json", input_sha256=hashlib.sha256(data).digest()
        )
    )
    rows = [row for s in content.sections for row in s.rows if row.label == t.LABEL_SUPERSEDED]
    for row in rows:
        assert "zzzz" not in row.value or ("not checked" in row.value and "未" in row.value), (
            f"the certificate of a VALID bundle says, unchecked: {row.value!r}"
        )
