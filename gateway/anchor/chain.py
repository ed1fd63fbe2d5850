"""The chain client: the ``EvidenceAnchor`` contract over standard Ethereum JSON-RPC.

Only standard methods are used (``eth_chainId``, ``eth_blockNumber``,
``eth_getBlockByNumber``, ``eth_getBalance``, ``eth_getTransactionCount``,
``eth_gasPrice``, ``eth_estimateGas``, ``eth_call``, ``eth_sendRawTransaction``,
``eth_getTransactionByHash``, ``eth_getTransactionReceipt``, ``eth_getCode``),
through web3.py with no middleware, so the same code serves anvil, Hyperledger Besu (QBFT),
FISCO BCOS's Ethereum-compatible RPC or any EVM chain. The HTTP requests go
through :class:`gateway.anchor.transport.BoundedProvider`: one deadline per
request, answers capped at 1 MiB, no redirects.
Transactions are signed locally (eth-account) as legacy ``gasPrice``
transactions with the chain id (EIP-155), which every EVM node accepts.

Errors: :class:`ChainUnavailable` when the node cannot be reached or times out
(the worker backs off and retries), :class:`ContractRefused` when the contract
would revert (its custom error decoded: ``NotSubmitter``, ``SizeNotIncreasing``,
``InconsistentAnchor`` ...), :class:`TransactionRejected` when the node refuses a signed transaction
(nonce too low, underpriced replacement, no funds), :class:`ChainError`
otherwise (all in :mod:`gateway.anchor.chain_types`; an answer too large,
nested too deeply, or not what the method returns, included). Text from the
node is escaped and shortened before it enters a message; the node is named by
scheme, host and port only (:func:`court.urls.public_url`), never with the
password, API key or path of its URL. Anchors read from the contract are the
court's :class:`court.verify.anchor.OnChainAnchor`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from court.rpchttp import RpcHttpStatus, RpcTransportError, RpcUnreachable
from court.urls import public_url
from court.verify.anchor import OnChainAnchor, log_id_of
from gateway.anchor.chain_types import (
    ChainError,
    ChainUnavailable,
    ContractRefused,
    SentAnchor,
    SignedAnchor,
    TransactionRejected,
    TxState,
    node_text,
    show,
)
from gateway.anchor.contract import Artifact, load_artifact
from gateway.anchor.ethlibs import (
    LocalAccount,
    Web3,
    abi_decode,
    keccak,
    to_checksum_address,
    web3_exceptions,
)
from gateway.anchor.transport import BoundedProvider

BlockNotFound = web3_exceptions.BlockNotFound
ContractCustomError = web3_exceptions.ContractCustomError
ContractLogicError = web3_exceptions.ContractLogicError
TransactionNotFound = web3_exceptions.TransactionNotFound
Web3Exception = web3_exceptions.Web3Exception
Web3RPCError = web3_exceptions.Web3RPCError

__all__ = [
    "ChainClient",
    "ChainError",
    "ChainUnavailable",
    "ContractRefused",
    "SentAnchor",
    "SignedAnchor",
    "TransactionRejected",
    "TxState",
    "log_id_of",
]

_GAS_MARGIN_NUM, _GAS_MARGIN_DEN = 5, 4  # gas limit = estimate * 5/4
_RECEIPT_POLL_SECONDS = 0.1


def _abi_type(param: dict[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){param['type'][len('tuple') :]}"
    return str(param["type"])


def _error_table(artifact: Artifact) -> dict[bytes, tuple[str, list[str]]]:
    """Selector -> (name, argument types) of the contract's custom errors."""
    table = {}
    for entry in artifact.errors():
        types = [_abi_type(p) for p in entry["inputs"]]
        selector = keccak(text=f"{entry['name']}({','.join(types)})")[:4]
        table[selector] = (entry["name"], types)
    return table


_ANCHORED_TOPIC = keccak(text="Anchored(bytes32,uint256,uint64,bytes32,bytes32)")


class ChainClient:
    """One chain node, and (when ``contract`` is given) the anchor contract on it.

    ``account`` signs transactions (deploy, register, anchor); reads need none.
    Every request ends within ``timeout`` seconds, however slowly the node
    answers, and is not retried here: the caller decides (the worker backs off
    on :class:`ChainUnavailable`).
    """

    def __init__(
        self,
        rpc_url: str,
        contract: str | None = None,
        account: LocalAccount | None = None,
        timeout: float = 10.0,
    ) -> None:
        try:
            self._provider = BoundedProvider(rpc_url, timeout)
        except RpcTransportError as exc:
            raise ChainError(f"unusable RPC URL: {exc}") from None
        self.rpc_url = rpc_url
        self.node = public_url(rpc_url)  # how messages name the node
        self.timeout = timeout
        self._account = account
        self._artifact = load_artifact()
        self._errors = _error_table(self._artifact)
        self._w3 = Web3(self._provider, middleware=[])
        self._chain_id: int | None = None
        self._contract: Any = None
        self.address: str | None = None
        if contract is not None:
            self._use(contract)

    def abort_on(self, event: threading.Event | None) -> None:
        """Once ``event`` is set, every request (the one under way too) ends at once with
        :class:`ChainUnavailable` (the anchoring worker stopping); None: never."""
        self._provider.abort_on(event)

    # ------------------------------------------------------------------ plumbing

    def _use(self, address: str) -> None:
        try:
            checksum = to_checksum_address(address)
        except (ValueError, TypeError):
            raise ChainError(
                f"contract address {show(address)} is not a 20-byte hex address"
            ) from None
        self.address = str(checksum)
        self._contract = self._w3.eth.contract(address=checksum, abi=self._artifact.abi)

    def _require_contract(self) -> Any:
        if self._contract is None:
            raise ChainError("no contract address: deploy the contract or configure its address")
        return self._contract

    def _require_account(self) -> LocalAccount:
        if self._account is None:
            raise ChainError("no submitter key: configure the key file of the chain")
        return self._account

    def _decode_revert(self, data: object) -> ContractRefused:
        raw: bytes | None = None
        if isinstance(data, bytes):
            raw = data
        elif isinstance(data, str):
            try:
                raw = bytes.fromhex(data.removeprefix("0x"))
            except ValueError:
                raw = None
        if raw is not None and len(raw) >= 4 and raw[:4] in self._errors:
            name, types = self._errors[raw[:4]]
            try:
                args = tuple(abi_decode(types, raw[4:]))
            except Exception:  # malformed arguments: keep the name
                args = ()
            return ContractRefused(name, args)
        return ContractRefused(node_text(data) if data else "reverted")

    @contextmanager
    def _rpc(self, what: str) -> Iterator[None]:
        """Translate web3 and transport exceptions into ours."""
        try:
            yield
        except ContractCustomError as exc:
            raise self._decode_revert(exc.data) from None
        except ContractLogicError as exc:
            raise ContractRefused(node_text(exc.message or "reverted")) from None
        except (RpcUnreachable, ConnectionError, TimeoutError) as exc:
            raise ChainUnavailable(
                f"chain node {self.node} unreachable or too slow while {what} ({exc}); "
                "check that it runs and that rpc_url is right"
            ) from None
        except RpcHttpStatus as exc:
            raise ChainUnavailable(f"chain node {self.node} answered {exc} while {what}") from None
        except RpcTransportError as exc:
            raise ChainError(f"chain node {self.node} while {what}: {exc}") from None
        except Web3RPCError as exc:
            raise ChainError(f"chain node error while {what}: {node_text(exc.message)}") from None
        except RecursionError:
            raise ChainError(f"chain node answer nested too deeply while {what}") from None
        except (Web3Exception, ValueError, TypeError, KeyError) as exc:
            raise ChainError(
                f"chain node error while {what}: {exc.__class__.__name__}: {node_text(exc)}"
            ) from None

    # ------------------------------------------------------------------ chain

    def chain_id(self) -> int:
        if self._chain_id is None:
            with self._rpc("reading the chain id"):
                self._chain_id = int(self._w3.eth.chain_id)
        return self._chain_id

    def head(self) -> int:
        """The number of the latest block."""
        with self._rpc("reading the block number"):
            return int(self._w3.eth.block_number)

    def block_hash(self, number: int) -> bytes | None:
        """The hash of block ``number`` on the node's canonical chain; None beyond its head."""
        with self._rpc(f"reading block {number}"):
            try:
                block = self._w3.eth.get_block(number)
            except BlockNotFound:
                return None
        return bytes(block["hash"])

    def balance(self, address: str) -> int:
        with self._rpc("reading a balance"):
            return int(self._w3.eth.get_balance(to_checksum_address(address)))

    def nonce(self, pending: bool = False) -> int:
        """The submitter's next nonce: after its mined transactions, or (``pending``)
        after those in the node's pool too."""
        account = self._require_account()
        with self._rpc("reading the nonce"):
            return int(
                self._w3.eth.get_transaction_count(
                    account.address, "pending" if pending else "latest"
                )
            )

    # ------------------------------------------------------------------ transactions

    def gas_price(self) -> int:
        """The node's suggested gas price (``eth_gasPrice``), wei."""
        with self._rpc("reading the gas price"):
            return int(self._w3.eth.gas_price)

    def _sign(
        self,
        to: str | None,
        data: bytes,
        what: str,
        *,
        nonce: int | None = None,
        gas_price: int | None = None,
    ) -> SignedAnchor:
        account = self._require_account()
        call: dict[str, Any] = {"from": account.address, "data": data}
        if to is not None:
            call["to"] = to
        with self._rpc(f"simulating {what}"):
            self._w3.eth.call(call)  # type: ignore[arg-type]
        with self._rpc(f"estimating the gas of {what}"):
            gas = int(self._w3.eth.estimate_gas(call))  # type: ignore[arg-type]
        if nonce is None:
            nonce = self.nonce(pending=True)
        if gas_price is None:
            gas_price = self.gas_price()
        tx: dict[str, Any] = {
            "chainId": self.chain_id(),
            "nonce": nonce,
            "gas": gas * _GAS_MARGIN_NUM // _GAS_MARGIN_DEN,
            "gasPrice": gas_price,
            "value": 0,
            "data": data,
        }
        if to is not None:
            tx["to"] = to
        signed = account.sign_transaction(tx)
        return SignedAnchor(
            tx_hash=bytes(signed.hash),
            nonce=nonce,
            gas_price=gas_price,
            raw=bytes(signed.raw_transaction),
        )

    def broadcast(self, raw: bytes) -> None:
        """Send a signed transaction (``eth_sendRawTransaction``); the node knowing it
        already is fine. :class:`TransactionRejected` when the node refuses it."""
        with self._rpc("sending a transaction"):
            try:
                self._w3.eth.send_raw_transaction(raw)
            except Web3RPCError as exc:
                text = str(exc.message or exc)
                if "already known" not in text.lower():  # the same bytes sent twice: fine
                    raise TransactionRejected(node_text(text)) from None

    def _send(self, to: str | None, data: bytes, what: str) -> SentAnchor:
        signed = self._sign(to, data, what)
        self.broadcast(signed.raw)
        return signed

    def wait_receipt(self, tx_hash: bytes, timeout: float = 60.0) -> TxState:
        """Wait until ``tx_hash`` is mined (``ChainError`` after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.tx_state(tx_hash)
            if state.mined:
                return state
            if time.monotonic() > deadline:
                raise ChainError(f"transaction 0x{tx_hash.hex()} not mined in {timeout:g} s")
            time.sleep(_RECEIPT_POLL_SECONDS)

    def _send_and_wait(self, to: str | None, data: bytes, what: str) -> TxState:
        sent = self._send(to, data, what)
        state = self.wait_receipt(sent.tx_hash, timeout=max(self.timeout, 60.0))
        if not state.success:
            raise ChainError(f"{what} failed on chain (transaction 0x{sent.tx_hash.hex()})")
        return state

    def deploy(self) -> str:
        """Deploy the contract (the account becomes its admin); return its address."""
        state = self._send_and_wait(None, self._artifact.bytecode, "deploying the contract")
        with self._rpc("reading the deployment receipt"):
            receipt = self._w3.eth.get_transaction_receipt(state.tx_hash)  # type: ignore[arg-type]
        address = receipt["contractAddress"]
        if address is None:
            raise ChainError("the deployment receipt names no contract address")
        self._use(str(address))
        assert self.address is not None
        return self.address

    def register_log(self, verifier_key: str, submitter: str) -> bytes:
        """Register a log (admin only); wait until mined; return the transaction hash."""
        contract = self._require_contract()
        data = contract.encode_abi("registerLog", args=[verifier_key, submitter])
        state = self._send_and_wait(self.address, _bytes(data), "registering the log")
        return state.tx_hash

    def set_submitter(self, log_id: bytes, submitter: str) -> bytes:
        """Replace a log's submitter (admin only); wait until mined; return the hash."""
        contract = self._require_contract()
        data = contract.encode_abi("setSubmitter", args=[log_id, submitter])
        state = self._send_and_wait(self.address, _bytes(data), "changing the submitter")
        return state.tx_hash

    def sign_anchor(
        self,
        log_id: bytes,
        tree_size: int,
        root_hash: bytes,
        checkpoint_hash: bytes,
        consistency_proof: Sequence[bytes],
        *,
        nonce: int | None = None,
        gas_price: int | None = None,
    ) -> SignedAnchor:
        """Sign an anchor transaction, without sending it (:meth:`broadcast` does).

        ``consistency_proof``: the RFC 9162 consistency proof from the log's latest
        anchor on chain (its size and root) to this tree; empty for the log's first
        anchor. The contract verifies it and refuses an anchor that does not extend the
        previous one (``InconsistentAnchor``).

        It is simulated first (``eth_call``): a refusal by the contract raises
        :class:`ContractRefused` and nothing is signed. Without ``nonce``, the
        account's next one after its pending transactions; ``nonce`` and
        ``gas_price`` replace a pending transaction (same nonce, higher price).
        """
        contract = self._require_contract()
        args = [log_id, tree_size, root_hash, checkpoint_hash, list(consistency_proof)]
        data = contract.encode_abi("anchor", args=args)
        return self._sign(
            self.address, _bytes(data), "the anchor", nonce=nonce, gas_price=gas_price
        )

    def send_anchor(
        self,
        log_id: bytes,
        tree_size: int,
        root_hash: bytes,
        checkpoint_hash: bytes,
        consistency_proof: Sequence[bytes],
        *,
        nonce: int | None = None,
        gas_price: int | None = None,
    ) -> SentAnchor:
        """:meth:`sign_anchor`, then :meth:`broadcast`, without waiting for it to be mined."""
        signed = self.sign_anchor(
            log_id,
            tree_size,
            root_hash,
            checkpoint_hash,
            consistency_proof,
            nonce=nonce,
            gas_price=gas_price,
        )
        self.broadcast(signed.raw)
        return signed

    @property
    def submitter(self) -> str | None:
        """The address of the account that signs (None: read-only client)."""
        return None if self._account is None else str(self._account.address)

    def tx_state(self, tx_hash: bytes) -> TxState:
        with self._rpc("reading a transaction receipt"):
            try:
                receipt = self._w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            except TransactionNotFound:
                receipt = None
            if receipt is None:
                try:
                    self._w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
                    found = True
                except TransactionNotFound:
                    found = False
                return TxState(tx_hash, found, None, None, None, None, None)
        success = int(receipt["status"]) == 1
        number = None
        if success and self.address is not None:
            for entry in receipt["logs"]:
                topics = entry["topics"]
                if (
                    str(entry["address"]).lower() == self.address.lower()
                    and len(topics) == 3
                    and bytes(topics[0]) == _ANCHORED_TOPIC
                ):
                    number = int.from_bytes(bytes(topics[2]), "big")
        return TxState(
            tx_hash=tx_hash,
            found=True,
            block_number=int(receipt["blockNumber"]),
            block_hash=bytes(receipt["blockHash"]),
            success=success,
            gas_used=int(receipt["gasUsed"]),
            anchor_number=number,
        )

    # ------------------------------------------------------------------ views

    def holds_artifact(self) -> bool | None:
        """Whether the contract's code on chain (``eth_getCode``) is the artifact's runtime
        code: True; other code: False; no code at the address: None."""
        self._require_contract()
        assert self.address is not None
        with self._rpc("reading the contract's code"):
            code = bytes(self._w3.eth.get_code(to_checksum_address(self.address)))
        if not code:
            return None
        return code == self._artifact.deployed_bytecode

    def _view(self, name: str, *args: Any) -> Any:
        contract = self._require_contract()
        with self._rpc(f"calling {name}"):
            return getattr(contract.functions, name)(*args).call()

    def submitter_of(self, log_id: bytes) -> str:
        """The log's submitter; the zero address when the log is not registered."""
        return str(self._view("submitterOf", log_id))

    def verifier_key_of(self, log_id: bytes) -> str:
        """The verifier key pinned for the log; empty when it is not registered."""
        return str(self._view("verifierKeyOf", log_id))

    def anchor_count(self, log_id: bytes) -> int:
        return int(self._view("anchorCount", log_id))

    def anchor_at(self, log_id: bytes, number: int) -> OnChainAnchor:
        """Anchor ``number`` (``ContractRefused("NoAnchor")`` beyond the last)."""
        return _anchor(number, self._view("anchorAt", log_id, number))

    def latest_anchor(self, log_id: bytes) -> OnChainAnchor | None:
        try:
            number, fields = self._view("latestAnchor", log_id)
        except ContractRefused as exc:
            if exc.reason == "NoAnchor":
                return None
            raise
        return _anchor(int(number), fields)

    def first_anchor_covering(self, log_id: bytes, size: int) -> OnChainAnchor | None:
        """The first anchor whose tree size is at least ``size``; None if none is yet."""
        found, number, fields = self._view("firstAnchorCovering", log_id, size)
        return _anchor(int(number), fields) if found else None


def _bytes(data: object) -> bytes:
    if isinstance(data, bytes):
        return data
    return bytes.fromhex(str(data).removeprefix("0x"))


def _anchor(number: int, fields: Any) -> OnChainAnchor:
    tree_size, root_hash, checkpoint_hash, block_time, block_number = fields
    return OnChainAnchor(
        number=number,
        tree_size=int(tree_size),
        root_hash=bytes(root_hash),
        checkpoint_hash=bytes(checkpoint_hash),
        block_time=int(block_time),
        block_number=int(block_number),
    )
