"""Anchoring signed checkpoints of the log on EVM chains.

``contract`` loads the compiled ``EvidenceAnchor`` artifact, ``keys`` makes and
reads the submitter's secp256k1 key file, ``chain`` talks standard Ethereum
JSON-RPC to any EVM node (anvil, Hyperledger Besu, FISCO BCOS's
Ethereum-compatible RPC).
"""
