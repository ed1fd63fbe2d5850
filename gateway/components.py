"""The parts a configuration describes, opened for serving: the store (with its
writer lock), the time-stamp authority and the ledger over them."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from court.files import InputError, load_certificates
from gateway.api.admin import RecordChange
from gateway.api.log import TrustInfo, TsaSource, TsaTrust
from gateway.api.ports import LedgerPort
from gateway.config import ConfigError, GatewayConfig

if TYPE_CHECKING:
    from gateway.anchor.worker import AnchorWorker
    from gateway.store import SqlStore
    from gateway.store.base import InstitutionStore

log = logging.getLogger(__name__)

#: The institution the PKI's operator certificate is registered as (admin role).
OPERATOR = "operator"

__all__ = [
    "OPERATOR",
    "check_pki",
    "institutions_registry",
    "load_tsa_trust",
    "open_anchoring",
    "open_ledger",
    "open_store",
    "read_certificates",
    "register_operator",
    "trust_info",
]


def read_certificates(path: Path) -> list[x509.Certificate]:
    """The certificates of a PEM file (one or more) or a DER file; ConfigError otherwise."""
    try:
        return load_certificates(path)
    except InputError as exc:
        raise ConfigError(str(exc)) from None


def load_tsa_trust(config: GatewayConfig) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    """Trust anchors and extra certificates for checking the TSA's tokens.

    In-process TSA: the PKI's root CA, and the TSA certificate as an extra.
    HTTP TSAs: the configured ``tsa.ca_files`` (all of them are anchors).
    """
    if config.tsa_urls:
        if not config.tsa_ca_files:
            raise ConfigError(
                "tsa.urls is set but tsa.ca_files is empty: give the trust anchors (PEM) of "
                "the time-stamp authorities, so that their tokens can be verified"
            )
        roots = [c for path in config.tsa_ca_files for c in read_certificates(path)]
        return roots, []
    pki = config.pki_dir
    return read_certificates(pki / "root-ca.pem"), read_certificates(pki / "tsa.pem")


def trust_info(
    config: GatewayConfig,
    roots: Sequence[x509.Certificate],
    untrusted: Sequence[x509.Certificate],
    log_verifier_key: str,
) -> TrustInfo:
    """What LogService.GetTrustInfo answers: the log's key, each TSA's chain and policy.

    ``roots`` and ``untrusted`` are :func:`load_tsa_trust`'s. Each root is one
    chain; a root that issued the last of ``untrusted`` (the in-process TSA's
    certificate) gets it, and what precedes it, in front.
    """
    from court.verify.checkpoint import parse_verifier_key
    from gateway.model import HASH_ALGORITHMS
    from notary.tsa.config import DEFAULT_POLICY_OID

    source = TsaSource.HTTP if config.tsa_urls else TsaSource.IN_PROCESS
    # The in-process TSA is built by open_ledger with the engine's default policy.
    policies = (DEFAULT_POLICY_OID,) if source is TsaSource.IN_PROCESS else ()
    der = [c.public_bytes(Encoding.DER) for c in untrusted]
    tsas = []
    for root in roots:
        issued = bool(untrusted) and untrusted[-1].issuer == root.subject
        chain = (
            (*der, root.public_bytes(Encoding.DER))
            if issued
            else (root.public_bytes(Encoding.DER),)
        )
        tsas.append(TsaTrust(source=source, chain=chain, policies=policies))
    return TrustInfo(
        log_origin=parse_verifier_key(log_verifier_key).name,
        log_verifier_key=log_verifier_key,
        tsas=tuple(tsas),
        hash_algorithms=HASH_ALGORITHMS,
    )


def check_pki(config: GatewayConfig) -> None:
    if not (config.pki_dir / "tsa.pem").exists() or not config.log_vkey_path.exists():
        raise ConfigError(
            f"no PKI in {config.pki_dir}: create one with `notary pki init --out "
            f"{config.pki_dir}` (or set tsa.pki_dir)"
        )


def open_store(config: GatewayConfig) -> SqlStore:
    """The store of ``config``, holding its writer lock (see :mod:`gateway.store.lock`)."""
    from gateway.store import SqlStore, StoreError
    from gateway.store.lock import WriterLockHeld

    try:
        store = (
            SqlStore.open(config.store_url)
            if config.store_url
            else SqlStore.in_data_dir(config.data_dir)
        )
    except (StoreError, ValueError, OSError) as exc:
        raise ConfigError(f"cannot open the store {config.database_url}: {exc}") from exc
    try:
        store.hold_writer_lock()
    except WriterLockHeld as exc:
        store.close()
        raise ConfigError(str(exc)) from None
    except (StoreError, OSError) as exc:
        store.close()
        raise ConfigError(f"cannot lock the store {config.database_url}: {exc}") from exc
    return store


def _open_tsa(config: GatewayConfig, roots: list[x509.Certificate]) -> Any:
    from gateway.tsa import EngineTokenSource, HttpTokenSource, ProcessEngineTokenSource
    from notary.serve import build_authority

    if config.tsa_urls:
        return HttpTokenSource(list(config.tsa_urls), roots)
    config.tsa_state_dir.mkdir(parents=True, exist_ok=True)
    if config.tsa_processes > 0:
        factory = functools.partial(
            build_authority, config.pki_dir, config.tsa_state_dir, accept_sm3=True
        )
        return ProcessEngineTokenSource(factory, roots, processes=config.tsa_processes)
    authority = build_authority(config.pki_dir, config.tsa_state_dir, accept_sm3=True)
    return EngineTokenSource(authority, roots)


def open_ledger(config: GatewayConfig) -> LedgerPort:
    """Open the store (and take its writer lock), the TSA and the ledger of ``config``.

    The store comes first: a gateway that may not write starts no TSA worker.
    """
    from gateway.ledger import Ledger
    from notary.errors import NotaryError
    from notary.pki import load_log_signing_key, load_log_verifier_key

    check_pki(config)
    roots, _ = load_tsa_trust(config)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(config)
    tsa: Any = None
    try:
        try:
            log_key = load_log_signing_key(config.pki_dir)
            log_origin = load_log_verifier_key(config.pki_dir).origin
            tsa = _open_tsa(config, roots)
        except (NotaryError, ValueError, OSError) as exc:
            raise ConfigError(
                f"cannot set up the time-stamp authority or the log key: {exc}"
            ) from exc
        ledger: LedgerPort = Ledger.open(
            store=store,
            tsa=tsa,
            log_key=log_key,
            log_origin=log_origin,
            max_batch=config.log_max_batch,
            max_wait_ms=config.log_max_wait_ms,
            wait_when_idle=config.log_wait_when_idle,
            max_queue=config.log_max_queue,
            min_occurred_at=config.min_occurred_at,
            max_queue_age_seconds=config.log_max_queue_age_seconds,
        )
    except BaseException:
        closer = getattr(tsa, "close", None)
        if callable(closer):
            closer()
        store.close()
        raise
    return ledger


def open_anchoring(
    config: GatewayConfig, ledger: object, log_verifier_key: str
) -> AnchorWorker | None:
    """The anchoring worker on the ledger's store, if ``anchor.enabled`` (not started)."""
    from gateway.anchor.setup import open_worker
    from gateway.store import SqlStore

    if not config.anchor_enabled:
        return None
    store = getattr(ledger, "store", None)
    if not isinstance(store, SqlStore):
        raise ConfigError("anchoring needs the SQL store (anchor.enabled with another ledger)")
    return open_worker(config, store, log_verifier_key)


def institutions_registry(ledger: object) -> InstitutionStore | None:
    """The institutions registry in the ledger's store (``None`` for a store without SQL)."""
    from gateway.store import SqlStore
    from gateway.store.institutions import SqlInstitutions

    store = getattr(ledger, "store", None)
    return SqlInstitutions(store) if isinstance(store, SqlStore) else None


async def register_operator(
    registry: InstitutionStore,
    config: GatewayConfig,
    client_cas: Sequence[x509.Certificate],
    record: RecordChange,
) -> None:
    """Register the operator's certificate as the admin ``operator``, once, and
    record that registration in the log like every later one.

    Only while no institution of that name exists: once registered, the
    operator is changed through AdminService like any other (a revocation
    sticks across restarts). The log entry (kind ``institution_changed``, loan_ref
    ``:institutions`` of the operator, change ``register``) comes first, then the
    registry's row, so the operator is never registered without its record; its
    request id is the certificate's fingerprint, so a start that stopped between
    the two finds the same record again and completes the registration. Any
    failure is logged and the gateway serves without an admin until a restart.
    """
    from datetime import UTC, datetime

    from gateway.authz.roles import Role
    from gateway.errors import AlreadyExists, GatewayError
    from gateway.institutions import registered_certificate

    path = config.operator_cert_path
    try:
        if await asyncio.to_thread(registry.get, OPERATOR) is not None:
            return
        data = path.read_bytes()
    except OSError as exc:
        log.warning(
            "no operator registered: cannot read %s (%s); AdminService has no admin yet",
            path,
            exc.strerror,
        )
        return
    except GatewayError as exc:
        log.warning("no operator registered: %s", exc.message)
        return
    now = datetime.now(UTC)
    try:
        cert = registered_certificate(data, OPERATOR, client_cas, now, field=str(path))
        if await asyncio.to_thread(registry.by_fingerprint, cert.sha256) is not None:
            raise AlreadyExists("this certificate is already registered to another institution")
        receipt = await record(
            OPERATOR, OPERATOR, "register", f"bootstrap-{cert.sha256.hex()}", now
        )
        await asyncio.to_thread(registry.create, OPERATOR, Role.ADMIN, cert, now)
    except GatewayError as exc:
        log.warning(
            "no operator registered from %s: %s; restart the gateway once that is fixed",
            path,
            exc.message,
        )
        return
    log.info(
        "registered %s (admin) with %s, sha256 %s; log entry %s",
        OPERATOR,
        path,
        cert.sha256.hex(),
        receipt.entry_id,
    )
