"""The Chinese name of every check the court verifier can report (for the certificate).

Check names are the verifier's English names (``court.verify``); the
certificate prints each with its Chinese translation from :data:`CHECK_NAMES_ZH`.
A name missing here is printed in English only (a test asserts that every check
name the ``court`` package can emit is listed).
"""

# ruff: noqa: RUF001  (Chinese text uses full-width punctuation)

from __future__ import annotations

from typing import Final

__all__ = ["CHECK_NAMES_ZH", "check_name_zh"]

CHECK_NAMES_ZH: Final[dict[str, str]] = {
    # The RFC 3161 time-stamp token (court.verify.token).
    "DER well-formed": "时间戳令牌 DER 编码规范",
    "Status granted": "时间戳响应状态为“已批准”",
    "Content type id-ct-TSTInfo": "内容类型为 id-ct-TSTInfo",
    "SignedData version": "SignedData 版本正确",
    "Single signer": "仅有一个签名者",
    "SignerInfo version": "SignerInfo 版本正确",
    "digestAlgorithms lists the signer's": "digestAlgorithms 列明签名者的摘要算法",
    "Signer certificate found": "找到签名者证书",
    "Signer identifier exact": "签名者标识与证书完全一致",
    "contentType attribute": "contentType 签名属性正确",
    "messageDigest attribute": "messageDigest 签名属性一致",
    "Signature valid": "时间戳签名有效",
    "signingCertificate matches signer": "signingCertificate 属性与签名者证书一致",
    "Chain valid at genTime": "证书链在时间戳时间（genTime）有效",
    "EKU timeStamping (critical, sole)": "扩展密钥用途仅为时间戳（关键扩展）",
    "TSA name matches signer": "TSA 名称与签名者一致",
    "Imprint matches": "时间戳所载摘要与文件摘要一致",
    "Nonce matches": "随机数（nonce）一致",
    "Policy matches": "时间戳策略一致",
    "TSA identity pinned": "TSA 身份与指定身份一致",
    # The log leaf, checkpoint and proofs (court.verify.steps, receipt, record).
    "Leaf well-formed": "日志叶格式规范",
    "Leaf opening matches": "日志叶披露数据（盐值及私有字段）一致",
    "Leaf matches record": "日志叶与记录一致",
    "Leaf digest matches": "日志叶所载摘要一致",
    "Leaf names token": "日志叶指向该时间戳令牌",
    "Receipt fields match leaf": "回执字段与日志叶一致",
    "Checkpoint signature valid": "检查点签名有效",
    "Inclusion proof valid": "包含证明有效",
    "Receipt matches record": "回执与记录一致",
    "Receipt checkpoint signature valid": "回执检查点签名有效",
    "Receipt checkpoint fields match note": "回执检查点字段与签名文本一致",
    "Receipt inclusion proof valid": "回执包含证明有效",
    "Log consistent with receipt checkpoint": "日志与回执检查点一致",
    "Log consistent with anchored checkpoint": "日志与已锚定检查点一致",
    # Evidence bundles and dossiers (court.verify.bundle, court.verify.dossier).
    "Record fields match leaf": "记录字段与日志叶一致",
    "Checkpoint fields match note": "检查点字段与签名文本一致",
    "Loan map line present": "检查点载有贷款映射根",
    "Loan head proof valid": "贷款最新记录（头记录）的映射证明有效",
    "Loan records chained without gaps": "该笔贷款的记录前后相连、无缺失",
    "Loan head is last record": "映射所载头记录即最后一条记录",
    "Supersession consistent": "记录替代关系一致",
    "Every record opened": "所有记录均已公开（无隐去记录）",
    "Anchored checkpoint signature valid": "已锚定检查点签名有效",
    # Judicial case events (court.verify.case_history).
    "Case documents match records": "案件事件文件与记录一致",
    "Case history consistent": "案件进程符合状态转换规则",
    # The anchor on chain (court.verify.anchor).
    "Contract code is EvidenceAnchor": "合约代码为 EvidenceAnchor",
    "Log key pinned on chain": "日志公钥已在链上登记",
    "Anchor found on chain": "在链上找到锚定记录",
    "Anchored root matches checkpoint": "锚定的根哈希与检查点一致",
    "Consistency to anchored checkpoint": "与已锚定检查点的一致性证明有效",
    "Anchor confirmations": "锚定交易确认数足够",
    # The audit of a whole log by replay (court.verify.log_audit, court-verify audit-log).
    "Checkpoints listed": "已列出检查点且顺序正确",
    "Checkpoint signatures valid": "各检查点签名有效",
    "Leaves well-formed": "各日志叶格式规范",
    "Loan chains without gaps": "各贷款记录链无缺漏",
    "Tree roots recomputed": "由日志叶重算的树根一致",
    "Checkpoints consistent": "各检查点前后一致",
    "Loan map roots recomputed": "由日志叶重算的贷款映射根一致",
}


def check_name_zh(name: str) -> str:
    """The Chinese name of check ``name``, or ``""`` when it has none."""
    return CHECK_NAMES_ZH.get(name, "")
