"""The fixed bilingual (Chinese, English) text of the verification certificate.

Everything the certificate says by itself is here, so that a reviewer reads it
in one place and the font subset (:func:`template_characters`) covers it. The
check names are in :mod:`court.report.check_names`.
"""

# ruff: noqa: RUF001  (Chinese text uses full-width punctuation)

from __future__ import annotations

from typing import Final, NamedTuple

from court.report.check_names import CHECK_NAMES_ZH

__all__ = [
    "KIND_ZH",
    "Bi",
    "template_characters",
]


class Bi(NamedTuple):
    """One text in Chinese and in English."""

    zh: str
    en: str


TITLE: Final = Bi("电子证据核验报告", "Electronic Evidence Verification Certificate")

OUTCOME_HEADING: Final = Bi("核验结论", "Outcome")
OUTCOMES: Final[dict[str, Bi]] = {
    "valid": Bi("有效", "VALID"),
    "invalid": Bi("无效", "INVALID"),
    "inconclusive": Bi("无法确定", "INCONCLUSIVE"),
}
OUTCOME_NOTES: Final[dict[str, Bi]] = {
    "valid": Bi("所有必需的核验项均已通过。", "Every required check passed."),
    "invalid": Bi("至少一项核验未通过，首项为：", "At least one check failed, the first: "),
    "inconclusive": Bi(
        "没有核验项未通过，但有必需的核验项因缺少材料未能执行。",
        "No check failed, but a required check could not run for want of its input.",
    ),
}

SUBJECTS: Final[dict[str, Bi]] = {
    "bundle": Bi("单条证据记录（证据包）", "One evidence record (evidence bundle)"),
    "dossier": Bi("一笔贷款的全部记录（卷宗）", "All records of one loan (dossier)"),
}

# Section headings.
SECTION_SUBJECT: Final = Bi("核验对象", "What was verified")
SECTION_RECORD: Final = Bi("证据记录", "Evidence record")
SECTION_RECORDS: Final = Bi("卷宗记录", "Records of the dossier")
SECTION_LOG: Final = Bi("日志与检查点", "Log and checkpoint")
SECTION_ANCHOR: Final = Bi("区块链锚定", "Chain anchor")
SECTION_CHECKS: Final = Bi("核验项", "Checks")
SECTION_LEGAL: Final = Bi("法律依据", "Legal basis")
SECTION_LIMITS: Final = Bi("本报告不能证明的事项", "What this certificate does not prove")
SECTION_RUN: Final = Bi("核验信息", "About this verification")

# Field labels.
LABEL_SUBJECT: Final = Bi("核验范围", "Scope")
LABEL_INPUT: Final = Bi("输入文件", "Input file")
LABEL_INPUT_SHA: Final = Bi("输入文件 SHA-256", "Input file SHA-256")
LABEL_OWNER: Final = Bi("贷款机构", "Owner (lender)")
LABEL_LOAN: Final = Bi("贷款编号", "Loan reference")
LABEL_COUNT: Final = Bi("记录数", "Records")
LABEL_ENTRY: Final = Bi("记录编号", "Entry id")
LABEL_LEAF_INDEX: Final = Bi("日志序号", "Leaf index")
LABEL_SEQUENCE: Final = Bi("贷款内序号", "Loan sequence")
LABEL_KIND: Final = Bi("证据类型", "Kind")
LABEL_HASH: Final = Bi("文件哈希", "Document hash")
LABEL_GEN_TIME: Final = Bi("时间戳时间", "Time-stamp (genTime)")
LABEL_TSA: Final = Bi("时间戳机构", "Time-stamping authority")
LABEL_SUPERSEDED: Final = Bi("已被替代", "Superseded by")
LABEL_LATEST_ANCHORED: Final = Bi(
    "链上最新锚定的日志大小（条）", "Latest anchored log size on chain (entries)"
)
LABEL_ORIGIN: Final = Bi("日志标识", "Log origin")
LABEL_CP_SIZE: Final = Bi("检查点大小（条）", "Checkpoint size (entries)")
LABEL_CP_ROOT: Final = Bi("检查点根哈希", "Checkpoint root hash")
LABEL_CHAIN_ID: Final = Bi("链 ID", "Chain id")
LABEL_CONTRACT: Final = Bi("合约地址", "Contract")
LABEL_TX: Final = Bi(
    "交易哈希（文件所述，未经链上核对）", "Transaction (as the file states it; not read on chain)"
)
LABEL_BLOCK: Final = Bi("区块高度", "Block")
LABEL_ANCHORED_SIZE: Final = Bi("锚定时日志大小（条）", "Anchored log size (entries)")
LABEL_ON_CHAIN: Final = Bi("链上核实", "Read on chain")
LABEL_VERIFIED_AT: Final = Bi("核验时间", "Verified at")
LABEL_VERSION: Final = Bi("核验程序版本", "Verifier version")
LABEL_DOCUMENT: Final = Bi("文件比对", "Document compared")
LABEL_QR: Final = Bi("输入文件 SHA-256（扫码核对）", "Input file SHA-256 (scan to compare)")

ON_CHAIN_YES: Final = Bi(
    "是：已读取链上数据，链上核验项均通过", "Yes: read on chain, every chain check passed"
)
ON_CHAIN_NO: Final = Bi(
    "否：为输入文件所载，未读取链上数据", "No: as stated in the input file, not read on chain"
)
NO_ANCHOR: Final = Bi("输入文件未载有区块链锚定信息。", "The input file holds no chain anchor.")
DOCUMENT_COMPARED: Final = Bi("是：已与该记录比对", "Yes, compared with the record")
DOCUMENT_FILE: Final = Bi("文件", "file")
DOCUMENT_DIGEST_GIVEN: Final = Bi("核验方提供的哈希值", "digest given to the verifier")
DOCUMENT_NOT_COMPARED: Final[dict[str, Bi]] = {
    "bundle": Bi(
        "否：本报告未将任何具体文件与该记录比对",
        "No, not compared: this certificate does not tie any particular file to the record",
    ),
    "dossier": Bi(
        "否：本报告未将任何具体文件与卷宗中的记录比对",
        "No, not compared: this certificate does not tie any particular file to the "
        "dossier's records",
    ),
}
WITHHELD: Final = Bi("已隐去", "withheld")
SUPERSEDED: Final = Bi("已被替代", "superseded")
UNKNOWN: Final = Bi("未知", "unknown")
NOT_GIVEN: Final = Bi("未提供", "not given")
BEIJING: Final = Bi("北京时间", "Beijing time")
#: A bundle's supersededBy: outside every signature, and a bundle holds no correcting record.
SUPERSEDED_UNCHECKED: Final = Bi(
    "（输入文件所述，未经核验）", "(as stated in the file, not checked)"
)
NO_ANCHOR_YET: Final = Bi("链上尚无该日志的锚定", "no anchor of this log on chain yet")
#: {grown}: entries past the checkpoint; {block}: the latest anchor's block.
LATEST_ANCHORED: Final = Bi(
    "（区块 {block}；比本卷宗检查点多 {grown} 条）",
    "(block {block}; {grown} entries past this dossier's checkpoint)",
)
#: Added to the outcome note of a dossier with withheld records.
OUTCOME_WITHHELD: Final = Bi(
    "共 {total} 条记录中有 {withheld} 条已隐去（未公开）：其内容未经核验。",
    "{withheld} of {total} records withheld (not opened): their content was not checked.",
)
RECORD_WITHHELD_NOTE: Final = Bi(
    "该记录的内容未向核验方提供，仅核验了日志叶与时间戳。",
    "This record's content was not given to the verifier; only its log leaf and "
    "time-stamp were checked.",
)

# Check table.
COL_RESULT: Final = Bi("结果", "Result")
COL_CHECK: Final = Bi("核验项", "Check")
COL_DETAIL: Final = Bi("说明（英文）", "Detail")
STATUSES: Final[dict[str, Bi]] = {
    "passed": Bi("通过", "PASS"),
    "failed": Bi("未通过", "FAIL"),
    "not_run": Bi("未执行", "NOT RUN"),
}

# Records table (dossier).
COL_SEQ: Final = Bi("序号", "Seq.")
COL_KIND: Final = Bi("证据类型", "Kind")
COL_TIME: Final = Bi("时间戳时间（北京）", "genTime (Beijing)")
COL_HASH: Final = Bi("文件哈希（前 16 位）", "Document hash (prefix)")
COL_NOTES: Final = Bi("备注", "Notes")

KIND_ZH: Final[dict[str, str]] = {
    "LOAN_CONTRACT": "借款合同",
    "REPAYMENT_SCHEDULE": "还款计划",
    "REPAYMENT": "还款记录",
    "OVERDUE_NOTICE": "逾期通知",
    "COLLATERAL_STATUS": "担保物状态",
    "COLLECTION_CALL": "催收电话",
    "COLLECTION_VISIT": "上门催收",
    "COLLECTION_MESSAGE": "催收消息",
    "SETTLEMENT_AGREEMENT": "和解协议",
    "DEBT_ASSIGNMENT": "债权转让",
    "OTHER": "其他",
    "LOAN_DELEGATED": "贷款委托",
    "DELEGATION_REVOKED": "撤销委托",
    "LOAN_SHARED": "贷款共享",
    "SHARE_REVOKED": "撤销共享",
    "INSTITUTION_CHANGED": "机构变更",
}

# Case history (dossier): the judicial case events whose documents matched their records.
SECTION_CASES: Final = Bi("案件进程", "Case history")
CASES_NOTE: Final = Bi(
    "下列事项取自与日志记录摘要一致的案件事件文件，按记录顺序排列；其是否符合状态转换规则，"
    "见核验项“案件进程符合状态转换规则”。",
    "Taken from the case event documents that match their records' digests, in the "
    "loan's order; whether they follow the transition rules is the check \"Case history "
    'consistent".',
)
COL_CASE: Final = Bi("案件", "Case")
COL_EVENT: Final = Bi("事项", "Event")
COL_STATUS_AFTER: Final = Bi("事项后状态", "Status after")
COL_OCCURRED: Final = Bi("发生时间（北京）", "Occurred (Beijing)")
COL_AMOUNT: Final = Bi("金额", "Amount")
COL_RECORD: Final = Bi("记录", "Record")
CASE_EVENTS_ZH: Final[dict[str, str]] = {
    "filed": "立案申请",
    "accepted": "受理",
    "rejected": "不予受理",
    "mediation_started": "开始调解",
    "judgment": "判决",
    "award": "仲裁裁决",
    "enforcement_started": "开始执行",
    "property_frozen": "财产冻结",
    "amount_recovered": "执行到款",
    "concluded": "结案",
    "terminated": "终结",
    "withdrawn": "撤回",
    "settled": "和解",
}
# The case event kinds of the records table say what the case history says, once.
KIND_ZH.update({f"CASE_{event.upper()}": f"案件：{zh}" for event, zh in CASE_EVENTS_ZH.items()})
CASE_STATUSES_ZH: Final[dict[str, str]] = {
    "filed": "已申请立案",
    "accepted": "已受理",
    "rejected": "不予受理",
    "mediation": "调解中",
    "judgment": "已判决",
    "award": "已裁决",
    "enforcement": "执行中",
    "property_frozen": "财产已冻结",
    "concluded": "已结案",
    "terminated": "已终结",
    "withdrawn": "已撤回",
    "settled": "已和解",
}

LEGAL: Final[tuple[Bi, ...]] = (
    Bi(
        "《人民法院在线诉讼规则》第十六条至第十九条（区块链存储数据的效力与审查）："
        "当事人作为证据提交的电子数据系通过区块链技术存储，并经技术核验一致的，人民法院可以"
        "认定该电子数据上链后未经篡改，但有相反证据足以推翻的除外；当事人对数据上链后或上链前"
        "的真实性提出异议的，由人民法院依照上述条款审查，并可委托鉴定或者调取其他相关证据进行"
        "核对。本系统将日志检查点锚定于区块链，每条记录通过默克尔证明与检查点关联。本报告记载"
        "技术核验的过程与结果，供人民法院审查时参考；是否采信，由人民法院认定。",
        "Online Litigation Rules of the People's Courts, Articles 16 to 19 (effect and review "
        "of data stored with blockchain technology): where electronic data submitted as "
        "evidence was stored with blockchain technology and is consistent on technical "
        "verification, the court may find that it was not altered after it was stored on the "
        "chain, unless contrary evidence suffices to overturn that finding; objections to the "
        "authenticity of the data after or before it was stored on the chain are reviewed by "
        "the court under those articles, which may commission an appraisal or obtain other "
        "evidence for comparison. This system anchors its log's checkpoints on a blockchain; "
        "each record is linked to a checkpoint by Merkle proofs. This certificate records the "
        "process and results of a technical verification for the court's reference in that "
        "review; whether to accept the evidence is for the court to decide.",
    ),
    Bi(
        "《中华人民共和国电子签名法》第八条：审查数据电文作为证据的真实性，应当考虑生成、储存"
        "或者传递数据电文方法的可靠性，保持内容完整性方法的可靠性，用以鉴别发件人方法的可靠性，"
        "以及其他相关因素。本报告对时间戳（RFC 3161）与日志证明的核验结果，可供审查上述因素，"
        "特别是保持内容完整性方法的可靠性时参考。",
        "Electronic Signature Law of the People's Republic of China, Article 8: in reviewing "
        "the authenticity of a data message as evidence, the reliability of the way it was "
        "generated, stored or transmitted, of the way the integrity of its content was "
        "maintained and of the way its sender was identified, and other relevant factors, "
        "shall be considered. The verification of the time-stamp (RFC 3161) and of the log's "
        "proofs in this certificate may be considered in reviewing those factors, in "
        "particular the reliability of the way integrity was maintained.",
    ),
)

LIMITS: Final[tuple[Bi, ...]] = (
    Bi(
        "文件内容是否真实、准确、合法，其所述事实是否发生。",
        "Whether the document's content is true, accurate or lawful, or whether the facts "
        "it states happened.",
    ),
    Bi(
        "文件在时间戳之前的来源与形成过程：时间戳仅证明具有上列哈希值的文件不晚于时间戳时间"
        "（genTime）已经存在。",
        "Where the document came from or how it was made before it was time-stamped: the "
        "time-stamp proves only that a document with the hash shown existed no later than "
        "its genTime.",
    ),
    Bi(
        "文件签署人或提交机构的身份、权限及其意思表示。",
        "Who signed or submitted the document, their authority, or what they intended.",
    ),
)
LIMIT_BUNDLE: Final = Bi(
    "该笔贷款是否还有其他记录：记录是否完整，须核验该笔贷款的卷宗。",
    "Whether the loan has other records: completeness is shown only by verifying the "
    "loan's dossier.",
)
#: {size}: the dossier's checkpoint size.
LIMIT_DOSSIER: Final = Bi(
    "检查点之后新增的记录：卷宗仅证明该笔贷款截至其检查点（日志大小 {size} 条）的记录完整，"
    "此后日志可能已有增长。",
    "Records added after the checkpoint: the dossier shows the loan's records complete only "
    "up to its checkpoint (log size {size}); the log may have grown since.",
)
#: {latest}: the latest anchored size read on chain; {grown}: entries past the checkpoint.
LIMIT_GROWN: Final = Bi(
    "经读取链上数据，日志最新锚定时已有 {latest} 条，比本卷宗检查点多 {grown} 条；"
    "其中是否有该笔贷款的记录，本报告不能证明。",
    "Read on chain, the log's latest anchor covers {latest} entries, {grown} past this "
    "dossier's checkpoint; whether any of them is a record of this loan, this certificate "
    "does not show.",
)
#: {withheld}: how many records were withheld.
LIMIT_WITHHELD: Final = Bi(
    "已隐去（未公开）的 {withheld} 条记录的内容：仅核验了其日志叶、包含证明及在该笔贷款记录链中的"
    "位置，时间戳仅在输入文件提供时核验；已隐去的记录可能更正了其他记录，本报告无法核实。",
    "The content of the {withheld} withheld (not opened) record(s): only their log leaf, "
    "inclusion proof and place in the loan's chain were checked, their time-stamp only where "
    "the file gave it; a withheld record may correct another record, which this certificate "
    "cannot check.",
)
LIMIT_NOT_ON_CHAIN: Final = Bi(
    "未读取链上数据的，区块链锚定信息仅为输入文件所载，未经链上核实。",
    "Where the chain was not read, the chain anchor is as stated in the input file and was "
    "not checked on chain.",
)

FOOTER: Final = Bi("第 {page} 页，共 {pages} 页", "Page {page} of {pages}")
TRUNCATED: Final = Bi("已截断", "truncated")


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, tuple):
        return [text for item in value for text in _strings(item)]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    return []


def _all_texts() -> list[str]:
    fixed = [value for name, value in globals().items() if name.isupper()]
    return [*_strings(tuple(fixed)), *CHECK_NAMES_ZH.values()]


def template_characters() -> str:
    """Every character the certificate's fixed text uses (for the font subset), sorted."""
    return "".join(sorted({ch for text in _all_texts() for ch in text}))
