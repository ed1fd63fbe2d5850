// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title EvidenceAnchor
/// @notice Append-only anchors of signed checkpoints of transparency logs.
/// @dev A log is named by logId = sha256(UTF-8 bytes of its C2SP verifier key). Its key is
/// pinned here when the admin registers the log, so a court reads the key and the anchors
/// from any one honest node. Each anchor records a tree size strictly larger than the
/// previous one of that log, the tree's root hash and the SHA-256 of the signed checkpoint
/// note. Every anchor after a log's first carries the RFC 9162 (section 2.1.4) consistency
/// proof from the previous anchor's tree to its own, verified here: the anchors of a log are
/// versions of ONE append-only tree, so a checkpoint consistent with any one of them is
/// consistent with all. Appending costs three storage slots, one event, and one or two
/// SHA-256 per proof hash (at most 65 hashes), whatever the entries since the last anchor.
contract EvidenceAnchor {
    /// Longer proofs are refused before any hashing. A valid consistency proof between
    /// 64-bit tree sizes has at most 65 hashes.
    uint256 public constant MAX_PROOF_LENGTH = 128;

    struct Anchor {
        uint64 treeSize;
        bytes32 rootHash;
        bytes32 checkpointHash;
        uint64 blockTime;
        uint64 blockNumber;
    }

    /// Storage layout of an anchor: the three integers share one slot.
    struct Stored {
        uint64 treeSize;
        uint64 blockTime;
        uint64 blockNumber;
        bytes32 rootHash;
        bytes32 checkpointHash;
    }

    struct Log {
        address submitter;
        string verifierKey;
    }

    address public admin;
    mapping(bytes32 => Log) private logs;
    mapping(bytes32 => Stored[]) private anchors;

    event LogRegistered(bytes32 indexed logId, address submitter, string verifierKey);
    event SubmitterChanged(bytes32 indexed logId, address submitter);
    event Anchored(
        bytes32 indexed logId,
        uint256 indexed number,
        uint64 treeSize,
        bytes32 rootHash,
        bytes32 checkpointHash
    );

    error NotAdmin();
    error NotSubmitter(address caller);
    error UnknownLog(bytes32 logId);
    error SizeNotIncreasing(uint64 last, uint64 given);
    error NoAnchor();
    error AlreadyRegistered(bytes32 logId);
    error ZeroSubmitter();
    error EmptyKey();
    error InconsistentAnchor();
    error ProofTooLong(uint256 length, uint256 max);

    constructor() {
        admin = msg.sender;
    }

    modifier onlyAdmin() {
        if (msg.sender != admin) revert NotAdmin();
        _;
    }

    /// @notice Register a log by its verifier key; `submitter` alone may anchor it.
    function registerLog(string calldata verifierKey, address submitter) external onlyAdmin {
        if (bytes(verifierKey).length == 0) revert EmptyKey();
        if (submitter == address(0)) revert ZeroSubmitter();
        bytes32 logId = sha256(bytes(verifierKey));
        if (logs[logId].submitter != address(0)) revert AlreadyRegistered(logId);
        logs[logId] = Log(submitter, verifierKey);
        emit LogRegistered(logId, submitter, verifierKey);
    }

    /// @notice Replace the submitter of a log (its key was rotated or lost).
    function setSubmitter(bytes32 logId, address submitter) external onlyAdmin {
        if (submitter == address(0)) revert ZeroSubmitter();
        if (logs[logId].submitter == address(0)) revert UnknownLog(logId);
        logs[logId].submitter = submitter;
        emit SubmitterChanged(logId, submitter);
    }

    function submitterOf(bytes32 logId) external view returns (address) {
        return logs[logId].submitter;
    }

    function verifierKeyOf(bytes32 logId) external view returns (string memory) {
        return logs[logId].verifierKey;
    }

    /// @notice Append an anchor; returns its number (the first anchor of a log is number 0).
    /// @param consistencyProof The RFC 9162 consistency proof from the previous anchor's tree
    /// (its size and root, as stored here) to this one; empty for the first anchor of a log.
    function anchor(
        bytes32 logId,
        uint64 treeSize,
        bytes32 rootHash,
        bytes32 checkpointHash,
        bytes32[] calldata consistencyProof
    ) external returns (uint256 number) {
        address submitter = logs[logId].submitter;
        if (submitter == address(0)) revert UnknownLog(logId);
        if (msg.sender != submitter) revert NotSubmitter(msg.sender);
        if (consistencyProof.length > MAX_PROOF_LENGTH) {
            revert ProofTooLong(consistencyProof.length, MAX_PROOF_LENGTH);
        }
        Stored[] storage list = anchors[logId];
        number = list.length;
        if (number == 0) {
            if (treeSize == 0) revert SizeNotIncreasing(0, treeSize);
            if (consistencyProof.length != 0) revert InconsistentAnchor();
        } else {
            Stored storage previous = list[number - 1];
            uint64 last = previous.treeSize;
            if (treeSize <= last) revert SizeNotIncreasing(last, treeSize);
            if (!_consistent(last, treeSize, consistencyProof, previous.rootHash, rootHash)) {
                revert InconsistentAnchor();
            }
        }
        list.push(
            Stored(treeSize, uint64(block.timestamp), uint64(block.number), rootHash, checkpointHash)
        );
        emit Anchored(logId, number, treeSize, rootHash, checkpointHash);
    }

    function anchorCount(bytes32 logId) external view returns (uint256) {
        return anchors[logId].length;
    }

    function anchorAt(bytes32 logId, uint256 number) external view returns (Anchor memory) {
        Stored[] storage list = anchors[logId];
        if (number >= list.length) revert NoAnchor();
        return _public(list[number]);
    }

    function latestAnchor(bytes32 logId) external view returns (uint256 number, Anchor memory) {
        Stored[] storage list = anchors[logId];
        if (list.length == 0) revert NoAnchor();
        number = list.length - 1;
        return (number, _public(list[number]));
    }

    /// @notice The first anchor whose tree size is at least `size` (binary search).
    function firstAnchorCovering(
        bytes32 logId,
        uint64 size
    ) external view returns (bool found, uint256 number, Anchor memory result) {
        Stored[] storage list = anchors[logId];
        uint256 low = 0;
        uint256 high = list.length; // the answer lies in [low, high]; high means none
        while (low < high) {
            uint256 mid = (low + high) / 2;
            if (list[mid].treeSize >= size) {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        if (low == list.length) {
            return (false, 0, result);
        }
        return (true, low, _public(list[low]));
    }

    /// @notice Whether `proof` is the RFC 9162 consistency proof from the tree of `size1`
    /// leaves with root `root1` to the tree of `size2` leaves with root `root2`: the check
    /// `anchor` runs, with the semantics of court.verify.merkle.verify_consistency (a proof
    /// from size 0 is refused; equal sizes need an empty proof and equal roots).
    function verifyConsistency(
        uint64 size1,
        uint64 size2,
        bytes32 root1,
        bytes32 root2,
        bytes32[] calldata proof
    ) external view returns (bool) {
        if (proof.length > MAX_PROOF_LENGTH) revert ProofTooLong(proof.length, MAX_PROOF_LENGTH);
        return _consistent(size1, size2, proof, root1, root2);
    }

    /// RFC 9162 section 2.1.4.2, as transparency-dev/merkle's VerifyConsistency does it:
    /// the proof must have exactly the length that (size1, size2) requires.
    function _consistent(
        uint64 size1,
        uint64 size2,
        bytes32[] calldata proof,
        bytes32 root1,
        bytes32 root2
    ) private view returns (bool) {
        if (size1 == 0 || size2 < size1) return false;
        if (size1 == size2) return proof.length == 0 && root1 == root2;
        uint256 last1 = uint256(size1) - 1; // the index of each tree's last leaf
        // Levels below the point where the paths to the two last leaves meet (inner), and
        // the left siblings above it (border).
        uint256 inner = _bitLength(last1 ^ (uint256(size2) - 1));
        uint256 border = _bitCount(last1 >> inner);
        uint256 shift = _trailingZeros(size1); // shift < inner, since size1 < size2
        // The proof starts with the root of the largest perfect subtree ending at size1,
        // unless that subtree is the old tree itself (size1 a power of two).
        bytes32 seed = root1;
        uint256 start = 0;
        if (uint256(size1) != uint256(1) << shift) {
            if (proof.length == 0) return false;
            seed = proof[0];
            start = 1;
        }
        if (proof.length != start + inner - shift + border) return false;
        (bytes32 hash1, bytes32 hash2) = _fold(seed, proof[start:], inner - shift, last1 >> shift);
        return hash1 == root1 && hash2 == root2;
    }

    /// Hash `seed` up through `path`: the first `inner` hashes are siblings on the side
    /// the bits of `mask` say (1: on the left), the rest are left siblings. `hash1` folds
    /// in only the left siblings (the old tree), `hash2` all of them (the new tree).
    function _fold(
        bytes32 seed,
        bytes32[] calldata path,
        uint256 inner,
        uint256 mask
    ) private view returns (bytes32 hash1, bytes32 hash2) {
        hash1 = seed;
        hash2 = seed;
        for (uint256 i = 0; i < path.length; ++i) {
            if (i >= inner || (mask >> i) & 1 == 1) {
                hash1 = _node(path[i], hash1);
                hash2 = _node(path[i], hash2);
            } else {
                hash2 = _node(hash2, path[i]);
            }
        }
    }

    /// An interior node: SHA-256(0x01 || left || right) (the sha256 precompile).
    function _node(bytes32 left, bytes32 right) private view returns (bytes32 h) {
        assembly ("memory-safe") {
            let p := mload(0x40) // scratch beyond the free memory pointer, not allocated
            mstore8(p, 0x01)
            mstore(add(p, 1), left)
            mstore(add(p, 33), right)
            if iszero(staticcall(gas(), 0x02, p, 65, p, 32)) {
                revert(0, 0)
            }
            h := mload(p)
        }
    }

    function _bitLength(uint256 x) private pure returns (uint256 n) {
        while (x != 0) {
            x >>= 1;
            ++n;
        }
    }

    function _bitCount(uint256 x) private pure returns (uint256 n) {
        while (x != 0) {
            n += x & 1;
            x >>= 1;
        }
    }

    function _trailingZeros(uint64 x) private pure returns (uint256 n) {
        while (x & 1 == 0) {
            x >>= 1;
            ++n;
        }
    }

    function _public(Stored storage s) private view returns (Anchor memory) {
        return Anchor(s.treeSize, s.rootHash, s.checkpointHash, s.blockTime, s.blockNumber);
    }
}
