"""The anchoring worker: threads of the process that writes the log, one per chain.

Every ``poll_seconds`` each chain's thread makes one step:

1. **Reconcile.** Each PENDING anchor of the chain is looked up on the chain
   (its transaction, its block, the submitter's nonce) and judged
   (:func:`gateway.anchor.model.judge`): CONFIRMED once its block has
   ``confirmations`` blocks (its own included), DROPPED when the chain no
   longer knows it (a dropped transaction, its nonce taken by another
   transaction, a reorganisation). The latest CONFIRMED anchor is checked
   too: if its block left the chain, it is judged again, so a reorganisation
   deeper than ``confirmations`` is caught as well. A PENDING anchor whose
   transaction the node does not know while its nonce is still free is
   broadcast again, byte for byte (the stored signed transaction).
2. **Anchor.** With nothing pending, the latest checkpoint is anchored when
   at least ``min_new_entries`` entries are not covered by the chain's latest
   anchor of this log and ``interval_seconds`` passed since the last anchor
   was sent, or at once after a DROPPED anchor (its replacement) or on
   request (``notary anchor now``). The transaction is signed, stored
   (PENDING, with the signed bytes), and only then broadcast, so a crash in
   between leaves a row that the next step broadcasts, never an anchor on
   chain that the store does not know. The previous size is read from the
   contract itself (``latestAnchor``), and the transaction carries the
   consistency proof from it, which the contract verifies (and the stored
   attempt keeps); a chain whose latest anchor does not match
   this log's checkpoint of that size gets nothing more (an error in the
   log, and the lag grows).

A chain that cannot be reached is retried with a growing pause (up to the
interval); when it returns, one anchor of the latest checkpoint covers all
that was signed meanwhile. Chains are independent: each has its own thread,
so a node that is down, or answers slowly (each request ends at the client's
deadline, but a step makes several), holds only its own chain. A step that
fails in an unexpected way is logged with its traceback once (again only when
the error changes) and the chain is retried after the interval, like a
refusal. :meth:`AnchorWorker.stop` ends the requests under way at once
(:meth:`ChainPort.abort_on`), so it does not wait for a slow node.

The lag (entries and seconds not yet covered by a confirmed anchor) is read
from the store (:meth:`AnchorWorker.lag`); health says when it passes
``max_lag_seconds`` without stopping submissions (:mod:`gateway.server`).

A transaction that waits in the pool too long is replaced
(:mod:`gateway.anchor.replacing`). ``AdminService.AnchorNow`` (``notary
anchor now``) asks for an anchor of every chain at once
(:meth:`AnchorWorker.request_now`, :mod:`gateway.anchor.control`). The ports
and per-chain state it works with are in :mod:`gateway.anchor.worker_parts`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from court.report.escape import escape_text
from gateway.anchor.model import (
    AnchorStatus,
    Observation,
    StoredAnchor,
    Verdict,
    checkpoint_hash,
    judge,
    mined,
)
from gateway.anchor.replacing import gas_price, replace_transaction, stuck
from gateway.anchor.worker_parts import AnchorStore, ChainLag, ChainPort, WorkerChain
from gateway.log.tree import MissingNodeError, consistency_proof
from gateway.store.base import StoreError

__all__ = ["AnchorStore", "AnchorWorker", "ChainLag", "ChainPort", "WorkerChain"]

log = logging.getLogger(__name__)

_MAX_BACKOFF = 30.0
_ERROR_TEXT_LIMIT = 300  # characters of an unexpected error kept as the chain's error


class AnchorWorker:
    """Anchors the log's checkpoints on each configured chain (see the module docstring)."""

    def __init__(
        self,
        store: AnchorStore,
        log_id: bytes,
        chains: Sequence[WorkerChain],
        *,
        interval_seconds: float,
        min_new_entries: int,
        confirmations: int,
        max_lag_seconds: float,
        poll_seconds: float = 1.0,
        replace_after_seconds: float = 120.0,
        max_gas_price: int | None = None,
        unavailable: tuple[type[BaseException], ...] = (),
        refused: tuple[type[BaseException], ...] = (),
        clock: Callable[[], float] = time.time,
        fault: Callable[[str], None] = lambda where: None,
    ) -> None:
        """``unavailable``: the client's exception classes for an unreachable node;
        ``refused``: for any other chain failure (both are logged, the chain retried);
        ``replace_after_seconds``: a transaction pending this long (not mined) is
        replaced; ``max_gas_price``: the cap of its gas price, wei (None: none);
        ``fault``: called at named points of a step (``"stored"``: an anchor is stored,
        not yet broadcast), where a test makes the worker fail as a crash would."""
        self.store = store
        self.log_id = log_id
        self.chains = list(chains)
        self.interval = interval_seconds
        self.min_new_entries = min_new_entries
        self.confirmations = confirmations
        self.max_lag_seconds = max_lag_seconds
        self.poll_seconds = poll_seconds
        self.replace_after = replace_after_seconds
        self.max_gas_price = max_gas_price
        self._unavailable = unavailable
        self._refused: tuple[type[BaseException], ...] = (*refused, _WrongChain, _Mismatch)
        self.clock = clock
        self.fault = fault
        self._stop = threading.Event()
        self._wakes = {c.name: threading.Event() for c in self.chains}
        # Chains asked to anchor now: "ask", then "sent" until that anchor is settled.
        self._forced: dict[str, str] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        for chain in self.chains:
            try:
                latest = store.latest_anchor(chain.name, confirmed_only=False)
            except StoreError:
                latest = None
            if latest is not None:  # the interval runs on across restarts
                chain.last_sent = latest.submitted_at.timestamp()

    # ------------------------------------------------------------ running

    def start(self) -> None:
        """One thread per chain; the chain clients' requests end when :meth:`stop` is called."""
        for chain in self.chains:
            chain.client.abort_on(self._stop)
            thread = threading.Thread(
                target=self._run, args=(chain,), name=f"anchor-{chain.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the threads: the chain requests under way end at once, a store call under
        way finishes. Waits at most ``timeout`` seconds in all."""
        self._stop.set()
        for wake in self._wakes.values():
            wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def request_now(self) -> None:
        """Anchor the latest checkpoint on every chain at the next step."""
        with self._lock:
            self._forced.update((c.name, "ask") for c in self.chains)
        for wake in self._wakes.values():
            wake.set()

    def _run(self, chain: WorkerChain) -> None:
        wake = self._wakes[chain.name]
        while not self._stop.is_set():
            try:
                self.step(chain)
            except Exception as exc:  # keep anchoring whatever one step did
                self._crashed(chain, exc)
            wake.wait(self.poll_seconds)
            wake.clear()

    def _crashed(self, chain: WorkerChain, exc: Exception) -> None:
        """An unexpected failure: its traceback logged once, the chain retried later."""
        text = escape_text(f"{exc.__class__.__name__}: {exc}")[:_ERROR_TEXT_LIMIT]
        if text != chain.error:
            log.exception("anchoring on %s failed; retrying", chain.name)
        chain.error = text
        chain.checked = False
        chain.next_try = self.clock() + min(self.interval, _MAX_BACKOFF)

    # ------------------------------------------------------------ one step

    def step(self, chain: WorkerChain) -> None:
        """Reconcile ``chain``'s anchors, then anchor if it is time (see the module docstring)."""
        now = self.clock()
        if now < chain.next_try:
            return
        try:
            if not chain.checked:
                node = chain.client.chain_id()
                if node != chain.chain_id:
                    raise _WrongChain(
                        f"the node reports chain id {node}, the configuration says "
                        f"{chain.chain_id}: correct anchor.chains or the rpc_url"
                    )
                chain.checked = True
            in_flight = self._reconcile(chain)
            if not in_flight:
                chain.capped = ""
                self._maybe_anchor(chain, now)
        except self._unavailable as exc:
            if not self._stop.is_set():  # else: the request was ended by stop()
                self._down(chain, now, exc)
            return
        except self._refused as exc:
            self._failed(chain, now, exc)
            return
        except (StoreError, MissingNodeError) as exc:
            log.warning("anchoring on %s: the store failed (%s); retrying", chain.name, exc)
            chain.next_try = now + min(self.interval, _MAX_BACKOFF)
            return
        if chain.down_since is not None:
            log.warning(
                "anchoring: chain %s is reachable again after %.0f s",
                chain.name,
                now - chain.down_since,
            )
        chain.down_since, chain.backoff, chain.error = None, 0.0, ""

    def _down(self, chain: WorkerChain, now: float, exc: BaseException) -> None:
        if chain.down_since is None:
            chain.down_since = now
            log.warning("anchoring: chain %s is unreachable (%s); retrying", chain.name, exc)
        chain.checked = False
        chain.backoff = min(max(2 * chain.backoff, 0.5), min(self.interval, _MAX_BACKOFF))
        chain.next_try = now + chain.backoff
        chain.error = f"unreachable: {exc}"

    def _failed(self, chain: WorkerChain, now: float, exc: BaseException) -> None:
        text = getattr(exc, "message", None) or str(exc)
        if text != chain.error:
            log.error("anchoring on %s refused: %s", chain.name, text)
        chain.error = text
        chain.checked = False
        chain.next_try = now + min(self.interval, _MAX_BACKOFF)

    def _observe(self, chain: WorkerChain, a: StoredAnchor) -> Observation:
        """What the chain knows of ``a``'s transactions: the mined one if any (a
        replaced one may be), else whether one waits in the pool."""
        client = chain.client
        state = None
        for tx_hash in a.tx_hashes:
            seen = client.tx_state(tx_hash)
            if seen.found and (state is None or seen.block_number is not None):
                state = seen
            if seen.block_number is not None:
                break
        canonical = None if a.block_number is None else client.block_hash(a.block_number)
        if state is None:
            return Observation(
                found=False,
                head=client.head(),
                age=self.clock() - a.submitted_at.timestamp(),
                account_nonce=client.nonce(),
                canonical_hash=canonical,
            )
        return Observation(
            found=True,
            head=client.head(),
            age=self.clock() - a.submitted_at.timestamp(),
            block_number=state.block_number,
            block_hash=state.block_hash,
            success=state.success,
            anchor_number=state.anchor_number,
            canonical_hash=canonical,
            tx_hash=bytes(state.tx_hash),
        )

    def _reconcile(self, chain: WorkerChain) -> bool:
        """Judge the chain's pending anchors and its latest confirmed one; True while an
        anchor is still in flight (pending and not dropped)."""
        in_flight = False
        checked: set[int | None] = set()
        while True:  # a confirmed anchor that left the chain: the one before it, too
            latest = self.store.latest_anchor(chain.name)
            if latest is None or latest.id in checked:
                break
            checked.add(latest.id)
            if not self._settle(chain, latest):
                break
        for a in self.store.pending_anchors(chain.name):
            if self._settle(chain, a):
                continue
            in_flight = True
        return in_flight

    def _settle(self, chain: WorkerChain, a: StoredAnchor) -> bool:
        """Judge ``a`` and store the outcome; True if it was DROPPED (or failed)."""
        if (
            a.status is AnchorStatus.CONFIRMED
            and a.block_number is not None
            and chain.client.block_hash(a.block_number) == a.block_hash
        ):
            return False  # still in the chain: one call
        seen = self._observe(chain, a)
        verdict = judge(a, seen, self.confirmations)
        if verdict is Verdict.STILL_CONFIRMED:
            return False
        waiting = (verdict is Verdict.WAIT and seen.found) or verdict is Verdict.REBROADCAST
        if waiting and stuck(self, a):
            replace_transaction(self, chain, a)  # not mined for too long: same nonce, dearer
            return False
        if verdict is Verdict.REBROADCAST:
            assert a.raw_tx is not None
            log.warning(
                "anchoring: the node does not know the anchor of size %d on %s (transaction "
                "%s, nonce %d still free); broadcasting it again",
                a.tree_size,
                chain.name,
                "0x" + a.tx_hash.hex(),
                a.nonce,
            )
            chain.client.broadcast(a.raw_tx)
            return False
        if verdict is Verdict.WAIT:
            if a.status is AnchorStatus.CONFIRMED:  # back in the pool after a reorganisation
                self.store.update_anchor(mined(a, seen))
            return False
        if verdict is Verdict.MINED:
            self.store.update_anchor(mined(a, seen))
            self._log_waiting(chain, a, seen)
            return False
        if verdict is Verdict.CONFIRMED:
            moved = a.block_hash != seen.block_hash
            if a.status is AnchorStatus.CONFIRMED and not moved:
                return False
            done = replace(
                mined(a, seen),
                status=AnchorStatus.CONFIRMED,
                confirmed_at=datetime.now(UTC) if a.confirmed_at is None else a.confirmed_at,
            )
            self.store.update_anchor(done)
            log.info(
                "anchoring: size %d confirmed on %s (block %s, anchor %s)",
                a.tree_size,
                chain.name,
                seen.block_number,
                seen.anchor_number,
            )
            return False
        # DROPPED or FAILED: gone; a replacement is sent at once.
        self.store.update_anchor(replace(a, status=AnchorStatus.DROPPED))
        chain.replace_now = True
        if verdict is Verdict.FAILED:
            how = "reverted by the contract"
        elif seen.account_nonce is not None and seen.account_nonce > a.nonce:
            how = "replaced (another transaction took its nonce)"
        else:
            how = "dropped"
        log.warning(
            "anchoring: the anchor of size %d on %s was %s (transaction %s); resubmitting",
            a.tree_size,
            chain.name,
            how,
            "0x" + a.tx_hash.hex(),
        )
        return True

    def _log_waiting(self, chain: WorkerChain, a: StoredAnchor, seen: Observation) -> None:
        """Say, once per new depth, how many of the confirmations a mined anchor has."""
        if seen.block_number is None or seen.head is None:
            return
        depth = max(seen.head - seen.block_number + 1, 0)
        if chain.waiting == (a.id, depth):
            return
        chain.waiting = (a.id, depth)
        log.info(
            "anchoring: size %d on %s mined in block %d: waiting for confirmations %d/%d",
            a.tree_size,
            chain.name,
            seen.block_number,
            depth,
            self.confirmations,
        )

    def _maybe_anchor(self, chain: WorkerChain, now: float) -> None:
        with self._lock:
            asked = self._forced.get(chain.name)
        if asked == "sent":  # nothing in flight: the anchor sent on request is settled
            self._done_forced(chain)
        forced = asked == "ask"
        checkpoint = self.store.latest_checkpoint()
        if checkpoint is None:
            return
        on_chain = chain.client.latest_anchor(self.log_id)
        previous = 0 if on_chain is None else int(on_chain.tree_size)
        new = checkpoint.size - previous
        due = now - chain.last_sent >= self.interval and new >= self.min_new_entries
        if new <= 0 or not (due or forced or chain.replace_now):
            if new < 0:
                raise _Mismatch(
                    f"the chain's latest anchor of this log has size {previous}, larger than "
                    f"the log ({checkpoint.size}): is this the right database?"
                )
            if new == 0:
                self._done_forced(chain)
            return
        proof: tuple[bytes, ...] = ()
        if previous > 0:
            stored = self.store.checkpoint_at(previous)
            if stored is None or stored.root != bytes(on_chain.root_hash):
                raise _Mismatch(
                    f"the chain's latest anchor (size {previous}) does not match this log's "
                    "checkpoint of that size: the log or the chain was changed; nothing more "
                    "is anchored until an operator looks"
                )
            proof = tuple(consistency_proof(self.store, previous, checkpoint.size))
        note_hash = checkpoint_hash(checkpoint.note)
        # Signed first, stored, then broadcast: a crash in between leaves a PENDING
        # row whose transaction is broadcast again (never an anchor without a row).
        price = gas_price(self, chain, 0, f"the anchor of size {checkpoint.size}")
        signed = chain.client.sign_anchor(
            self.log_id, checkpoint.size, checkpoint.root, note_hash, proof, gas_price=price
        )
        at = datetime.fromtimestamp(now, UTC)
        stored_anchor = self.store.add_anchor(
            StoredAnchor(
                id=None,
                chain_name=chain.name,
                chain_id=chain.chain_id,
                contract=chain.contract,
                log_id=self.log_id,
                tree_size=checkpoint.size,
                root_hash=checkpoint.root,
                checkpoint_note=checkpoint.note,
                checkpoint_hash=note_hash,
                previous_size=previous,
                consistency_proof=proof,
                tx_hash=bytes(signed.tx_hash),
                nonce=int(signed.nonce),
                status=AnchorStatus.PENDING,
                submitted_at=at,
                raw_tx=bytes(signed.raw),
                gas_price=int(signed.gas_price),
                signed_at=at,
            )
        )
        self.fault("stored")
        chain.client.broadcast(signed.raw)
        chain.last_sent = now
        chain.replace_now = False
        chain.sent += 1
        if forced:
            with self._lock:
                self._forced[chain.name] = "sent"
        log.info(
            "anchoring: size %d sent to %s (previous %d, transaction %s)",
            stored_anchor.tree_size,
            chain.name,
            previous,
            "0x" + stored_anchor.tx_hash.hex(),
        )

    def _done_forced(self, chain: WorkerChain) -> None:
        with self._lock:
            self._forced.pop(chain.name, None)

    # ------------------------------------------------------------ lag

    def lag(self) -> list[ChainLag]:
        """Each chain's lag behind the log, read from the store (raises StoreError)."""
        now = self.clock()
        checkpoint = self.store.latest_checkpoint()
        size = 0 if checkpoint is None else checkpoint.size
        out = []
        for chain in self.chains:
            latest = self.store.latest_anchor(chain.name)
            anchored = 0 if latest is None else latest.tree_size
            seconds = 0.0
            if size > anchored:
                first = self.store.first_checkpoint_after(anchored)
                if first is not None:
                    seconds = max(0.0, now - first[1].timestamp())
            out.append(
                ChainLag(
                    chain_name=chain.name,
                    log_size=size,
                    anchored_size=anchored,
                    entries=max(0, size - anchored),
                    seconds=seconds,
                    down=chain.down_since is not None,
                    error=chain.error,
                    capped=chain.capped,
                )
            )
        return out

    def lagging(self) -> list[ChainLag]:
        """The chains whose lag is past ``max_lag_seconds``, or whose pending anchor is
        held at the gas price cap."""
        return [lag for lag in self.lag() if lag.seconds > self.max_lag_seconds or lag.capped]


class _WrongChain(Exception):
    pass


class _Mismatch(Exception):
    pass
