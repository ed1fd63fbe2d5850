"""One token verification: every check in report order, failing closed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cryptography import x509

from court.der import Tlv, read_children
from court.verify.result import Checklist
from court.verify.token.algorithms import digest_name, short
from court.verify.token.checks import (
    check_content_type,
    check_content_type_attr,
    check_digest_algorithms,
    check_message_digest,
    check_signature,
    check_signed_data_version,
    check_signer_info_version,
    check_single_signer,
    check_status,
)
from court.verify.token.expected import (
    Expected,
    Pins,
    check_imprint,
    check_nonce,
    check_pin,
    check_policy,
    expected_imprint,
)
from court.verify.token.identity import (
    check_chain,
    check_eku,
    check_signer_found,
    check_signer_id,
    check_signing_certificate,
    check_tsa_name,
)
from court.verify.token.parse import SignedData, TstInfo, parse
from court.verify.token.result import (
    CHECK_CONTENT_TYPE,
    CHECK_DER,
    CHECK_SIGNER_FOUND,
    CHECK_SIGNER_ID,
    CHECK_SINGLE_SIGNER,
    CHECK_STATUS,
    NEED_SIGNER,
    NEED_SIGNER_INFO,
    TOKEN_CHECKS,
    TokenVerification,
)
from court.verify.token.signer import Candidate, SignerId, load_candidates, name_text
from court.verify.x509chain import ChainCache, ChainMemo

__all__ = ["verify_timestamp"]


def verify_timestamp(
    token: bytes,
    *,
    roots: Sequence[x509.Certificate],
    untrusted: Sequence[x509.Certificate] = (),
    digest: bytes | None = None,
    hash_algorithm: str | None = None,
    data: bytes | None = None,
    nonce: int | None = None,
    policy: str | None = None,
    tsa_certificate: x509.Certificate | None = None,
    tsa_name: str | None = None,
    chain_memo: ChainMemo | None = None,
    chain_cache: ChainCache | None = None,
) -> TokenVerification:
    """Verify an RFC 3161 token for a digest (or data); see :mod:`court.verify.token`.

    ``token`` is a DER ``TimeStampResp`` or a bare ``TimeStampToken``.
    ``roots`` are the trust anchors; ``untrusted`` are extra certificates
    (intermediates, or the TSA certificate when the token embeds none) used to
    find the signer and build the path. ``digest`` + ``hash_algorithm`` is the
    expected message imprint; alternatively ``data`` is hashed with the token's
    imprint algorithm (or with ``hash_algorithm`` if given). ``nonce``,
    ``policy`` (dotted OID), ``tsa_certificate`` (the signer must be exactly
    this certificate) and ``tsa_name`` (RFC 4514; the signer's subject must
    equal it) are checked when given. The chain is validated at genTime;
    ``chain_memo``, shared by the verifications of many tokens, checks each
    signature of their TSAs' chains once (:class:`court.verify.x509chain.ChainMemo`);
    ``chain_cache``, kept by a long-lived verifier, hands back the path found for
    the same certificates within the same validity window
    (:class:`court.verify.x509chain.ChainCache`).
    """
    expected = expected_imprint(digest, hash_algorithm, data)
    if policy is not None:
        x509.ObjectIdentifier(policy)  # ValueError on a malformed OID
    pinned_name = x509.Name.from_rfc4514_string(tsa_name) if tsa_name is not None else None
    return _Run(
        token=bytes(token),
        roots=tuple(roots),
        untrusted=tuple(untrusted),
        expected=expected,
        nonce=nonce,
        policy=policy,
        pins=Pins(tsa_certificate, tsa_name, pinned_name),
        chain_memo=chain_memo,
        chain_cache=chain_cache,
    ).run()


class _Run:
    """One verification: holds the inputs, the checklist and what has been learnt."""

    def __init__(
        self,
        *,
        token: bytes,
        roots: tuple[x509.Certificate, ...],
        untrusted: tuple[x509.Certificate, ...],
        expected: Expected,
        nonce: int | None,
        policy: str | None,
        pins: Pins,
        chain_memo: ChainMemo | None = None,
        chain_cache: ChainCache | None = None,
    ) -> None:
        self.token = token
        self.roots = roots
        self.untrusted = untrusted
        self.expected = expected
        self.nonce = nonce
        self.policy = policy
        self.pins = pins
        self.chain_memo = chain_memo
        self.chain_cache = chain_cache
        self.checks = Checklist()
        self.fields: dict[str, Any] = {}
        self.signer: Candidate | None = None
        self.chain: tuple[x509.Certificate, ...] = ()

    def result(self) -> TokenVerification:
        return TokenVerification(
            verdict=self.checks.verdict(),
            signer=self.signer.cert if self.signer else None,
            chain=self.chain,
            **self.fields,
        )

    def rest(self, after: str) -> list[str]:
        return list(TOKEN_CHECKS[TOKEN_CHECKS.index(after) + 1 :])

    def run(self) -> TokenVerification:
        """Run every check; an unexpected exception fails the check it interrupted."""
        try:
            return self._run()
        except Exception as exc:  # fail closed, never raise for a bad token
            pending = [name for name in TOKEN_CHECKS if self.checks.get(name) is None]
            if not pending:  # pragma: no cover - every check was already recorded
                raise
            self.checks.failed(pending[0], f"could not be checked: {type(exc).__name__}: {exc}")
            self.checks.blocked(pending[1:], pending[0])
            return self.result()

    def _run(self) -> TokenVerification:
        c = self.checks
        parsed = parse(self.token)
        if isinstance(parsed, str):
            c.failed(CHECK_DER, parsed)
            c.blocked(self.rest(CHECK_DER), CHECK_DER)
            return self.result()
        kind = "TimeStampResp" if parsed.status is not None else "bare TimeStampToken"
        c.passed(CHECK_DER, f"{kind}, {len(self.token)} bytes")
        if parsed.tst_info is not None:
            self.fields = _fields(parsed.tst_info)
        if not check_status(c, parsed):
            c.blocked(self.rest(CHECK_STATUS), CHECK_STATUS)
            return self.result()
        if not check_content_type(c, parsed):
            c.blocked(self.rest(CHECK_CONTENT_TYPE), CHECK_CONTENT_TYPE)
            return self.result()
        signed_data, tst_info = parsed.signed_data, parsed.tst_info
        assert signed_data is not None and tst_info is not None
        check_signed_data_version(c, signed_data)
        self._signer_checks(signed_data, tst_info)
        check_imprint(c, self.expected, self.fields["hash_algorithm"], tst_info.hashed_message)
        check_nonce(c, self.nonce, tst_info.nonce)
        check_policy(c, self.policy, tst_info.policy)
        check_pin(c, self.pins, self.signer)
        return self.result()

    def _signer_checks(self, signed_data: SignedData, tst_info: TstInfo) -> None:
        c = self.checks
        econtent = signed_data.econtent
        assert econtent is not None
        signer_info = check_single_signer(c, signed_data)
        if signer_info is None:
            c.blocked([*NEED_SIGNER_INFO, *NEED_SIGNER], CHECK_SINGLE_SIGNER)
            return
        sid = SignerId(signer_info.sid)
        check_signer_info_version(c, signer_info, sid)
        check_digest_algorithms(c, signed_data, signer_info)
        supplied: list[tuple[x509.Certificate, str]] = [(u, "supplied") for u in self.untrusted]
        if self.pins.certificate is not None:
            supplied.append((self.pins.certificate, "pinned"))
        supplied.extend((r, "trust anchor") for r in self.roots)
        candidates, unloadable = load_candidates(signed_data.certificates, supplied)
        where = (
            f"{len(signed_data.certificates)} embedded and {len(supplied)} supplied certificate(s)"
        )
        if unloadable:
            where += f", {unloadable} unreadable"
        self.signer = check_signer_found(c, candidates, where, sid)
        if self.signer is None:
            c.blocked([CHECK_SIGNER_ID], CHECK_SIGNER_FOUND)
        else:
            check_signer_id(c, self.signer, sid)
        check_content_type_attr(c, signer_info)
        check_message_digest(c, signer_info, econtent)
        if self.signer is None:
            c.blocked(NEED_SIGNER, CHECK_SIGNER_FOUND)
            return
        check_signature(c, self.signer, signer_info, econtent)
        check_signing_certificate(c, self.signer, signer_info)
        embedded = [cand.cert for cand in candidates if cand.source == "embedded"]
        intermediates = [*embedded, *self.untrusted]
        self.chain = check_chain(
            c,
            self.signer,
            self.roots,
            intermediates,
            tst_info.gen_time,
            self.chain_memo,
            self.chain_cache,
        )
        check_eku(c, self.signer)
        check_tsa_name(c, self.signer, tst_info.tsa, self.fields.get("tsa_name"))


def _fields(tst: TstInfo) -> dict[str, Any]:
    """What the TSTInfo says, for the result (whether or not the token is valid)."""
    tsa_text: str | None = None
    if tst.tsa is not None:
        if tst.tsa.tag == 0xA4:  # directoryName [4] EXPLICIT Name
            tsa_text = name_text(read_children(tst.tsa.contents)[0].encoded)
        else:
            tsa_text = _general_name_text(tst.tsa)
    oid = tst.hash_algorithm.oid
    return {
        "gen_time": tst.gen_time,
        "serial_number": tst.serial_number,
        "policy": tst.policy,
        "hash_algorithm": digest_name(oid) or oid,
        "imprint": tst.hashed_message,
        "nonce": tst.nonce,
        "tsa_name": tsa_text,
    }


# GeneralName choices that hold an IA5String (RFC 5280 4.2.1.6), by identifier octet.
_TEXT_NAMES = {0x81: "rfc822_name", 0x82: "dns_name", 0x86: "uniform_resource_identifier"}


def _general_name_text(name: Tlv) -> str:
    """How a report shows a GeneralName other than a directoryName."""
    kind = _TEXT_NAMES.get(name.tag)
    if kind is not None:
        return f"{kind}:{name.contents[:200].decode('ascii', 'replace')}"
    return f"GeneralName [{name.tag & 0x1F}] {short(name.contents)}"
