// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title EvidenceAnchor
/// @notice Append-only anchors of signed checkpoints of transparency logs.
/// @dev A log is named by logId = sha256(UTF-8 bytes of its C2SP verifier key). Its key is
/// pinned here when the admin registers the log, so a court reads the key and the anchors
/// from any one honest node. Each anchor records a tree size strictly larger than the
/// previous one of that log, the tree's root hash and the SHA-256 of the signed checkpoint
/// note. Appending costs the same whatever the tree size: three storage slots and one event.
contract EvidenceAnchor {
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
    function anchor(
        bytes32 logId,
        uint64 treeSize,
        bytes32 rootHash,
        bytes32 checkpointHash
    ) external returns (uint256 number) {
        address submitter = logs[logId].submitter;
        if (submitter == address(0)) revert UnknownLog(logId);
        if (msg.sender != submitter) revert NotSubmitter(msg.sender);
        Stored[] storage list = anchors[logId];
        number = list.length;
        uint64 last = number == 0 ? 0 : list[number - 1].treeSize;
        if (treeSize <= last) revert SizeNotIncreasing(last, treeSize);
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

    function _public(Stored storage s) private view returns (Anchor memory) {
        return Anchor(s.treeSize, s.rootHash, s.checkpointHash, s.blockTime, s.blockNumber);
    }
}
