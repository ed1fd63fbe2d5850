// A bank's Node.js WatchCases subscriber that stops reading, written from
// docs/cases.md ("WatchCases and its cursor"), docs/gateway.md ("Errors") and
// case_service.proto only: @grpc/grpc-js over mutual TLS, @grpc/proto-loader
// with the options of case_client.js.
//
// Usage: node watch_resume_client.js HOST:PORT ROOT-CA.pem IDENTITIES-DIR STALL-SECONDS
// IDENTITIES-DIR holds NAME.pem and NAME.key (`notary institution add --out`) of
// bank-w (lender) and court-w (court); STALL-SECONDS is the gateway's
// [stream] stalled_write_seconds, and the gateway allows one call at a time per
// institution (max_calls_per_institution = 1), so the lender's other calls show
// whether its stream still holds its call slot.
//
// The lender files a case with court-w, which takes it to enforcement; the lender
// watches its cases, reads those four events, then pauses its stream
// (stream.pause()) while the court records amounts recovered, and stays paused
// past STALL-SECONDS. It then resumes: it reads what was queued, then the status
// the gateway ended the stream with (its code, message and the google.rpc.Status
// in the grpc-status-details-bin trailer, decoded). The court records three more
// events; the lender reconnects with the last cursor it received and reads until
// the last event. Prints one JSON object of what it saw; the Python test asserts
// on it.
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const { INCLUDE, call, loadErrorRoot } = require("./common.js");
const { Watch: BaseWatch } = require("./watch.js");

const JSON_OPTIONS = { keepCase: false, longs: String, enums: String, bytes: String, defaults: false };
// Amounts recovered while the lender does not read: many times what flow control
// lets through unread (an event's message, with its receipt, is a few KB).
const UNREAD_EVENTS = 120;

function loadServices() {
  const definition = protoLoader.loadSync(
    ["evidence_gateway/v1/evidence_service.proto", "evidence_gateway/v1/case_service.proto"],
    { includeDirs: INCLUDE, ...JSON_OPTIONS },
  );
  return grpc.loadPackageDefinition(definition).evidence_gateway.v1;
}

async function outcome(promise) {
  try {
    await promise;
    return { code: 0, name: "OK" };
  } catch (error) {
    return { code: error.code, name: grpc.status[error.code], message: error.details };
  }
}

const now = () => ({ seconds: String(Math.floor(Date.now() / 1000)), nanos: 0 });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The status of an ended call as a client sees it: code, message, trailer keys, and
// the google.rpc.Status details decoded by their type URL.
function ending(error, errorTypes) {
  const out = {
    code: error.code,
    name: grpc.status[error.code],
    message: error.details,
    metadata: Object.keys(error.metadata ? error.metadata.getMap() : {}).sort(),
    details: [],
  };
  const [raw] = error.metadata ? error.metadata.get("grpc-status-details-bin") : [];
  if (raw) {
    const status = errorTypes.lookupType("google.rpc.Status").decode(raw);
    for (const detail of status.details) {
      const name = detail.type_url.replace("type.googleapis.com/", "");
      const type = errorTypes.lookupType(name);
      out.details.push({ type: name, value: type.toObject(type.decode(detail.value), { longs: String }) });
    }
  }
  return out;
}

// A WatchCases stream (watch.js) whose error is decoded with its details.
class Watch extends BaseWatch {
  constructor(client, request, errorTypes) {
    super(client, request, (error) => ending(error, errorTypes));
  }

  // The event numbers received of one case (the stream carries all the caller's cases).
  numbers(caseId) {
    return this.messages.filter((m) => m.event && m.event.caseId === caseId).map((m) => m.event.eventNumber);
  }
}

function clients(v1, address, rootCa, dir, name) {
  const credentials = grpc.credentials.createSsl(
    rootCa,
    fs.readFileSync(path.join(dir, `${name}.key`)),
    fs.readFileSync(path.join(dir, `${name}.pem`)),
  );
  return { evidence: new v1.EvidenceService(address, credentials), cases: new v1.CaseService(address, credentials) };
}

async function main() {
  const [address, rootCaFile, dir, stallText] = process.argv.slice(2);
  const stallMs = Number(stallText) * 1000;
  const v1 = loadServices();
  const errorTypes = loadErrorRoot();
  const rootCa = fs.readFileSync(rootCaFile);
  const lender = clients(v1, address, rootCa, dir, "bank-w");
  const court = clients(v1, address, rootCa, dir, "court-w");
  const out = {};
  const suffix = crypto.randomUUID().slice(0, 8);
  const loanRef = `loan-w-${suffix}`;

  const submission = {
    requestId: `contract-${suffix}`,
    loanRef,
    kind: "EVIDENCE_KIND_LOAN_CONTRACT",
    hashAlgorithm: "HASH_ALGORITHM_SHA256",
    digest: crypto.createHash("sha256").update(`contract ${suffix}`).digest("base64"),
    occurredAt: { seconds: String(Math.floor(Date.now() / 1000) - 60), nanos: 0 },
  };
  const relied = (await call(lender.evidence, "SubmitEvidence", { submission })).receipt.entryId;
  const expires = { seconds: String(Math.floor(Date.now() / 1000) + 180 * 86400), nanos: 0 };
  const filed = await call(lender.cases, "FileCase", {
    requestId: `file-${suffix}`,
    loanRef,
    body: "court-w",
    claim: { currencyCode: "CNY", minorUnits: "5000000" },
    reliedOnEntryIds: [relied],
    shareExpiresAt: expires,
  });
  const caseId = filed.case.caseId;
  await call(court.cases, "AcceptCase", {
    requestId: `acc-${suffix}`,
    caseId,
    caseNumber: "(2026)京0105执1号",
    occurredAt: now(),
  });
  let last = 0;
  const update = async (event, extra = {}) => {
    const answer = await call(court.cases, "UpdateCaseStatus", {
      requestId: `${event}-${suffix}-${crypto.randomUUID().slice(0, 8)}`,
      caseId,
      event,
      occurredAt: now(),
      ...extra,
    });
    last = answer.event.eventNumber;
  };
  await update("CASE_EVENT_TYPE_JUDGMENT");
  await update("CASE_EVENT_TYPE_ENFORCEMENT_STARTED");
  const recovered = () =>
    update("CASE_EVENT_TYPE_AMOUNT_RECOVERED", { amount: { currencyCode: "CNY", minorUnits: "1" } });

  // Read the four events, then stop reading.
  const watch = new Watch(lender.cases, { cursor: "" }, errorTypes);
  await watch.until(() => watch.numbers(caseId).length >= 4, 30_000);
  watch.call.pause();
  out.read_before_pause = watch.numbers(caseId);
  // The stream holds the lender's only call slot while it is open.
  out.list_while_open = await outcome(call(lender.cases, "ListCases", {}));

  const started = Date.now();
  for (let n = 0; n < UNREAD_EVENTS; n++) await recovered();
  out.burst_ms = Date.now() - started;
  // docs/cases.md: once a message has waited stalled_write_seconds unwritten, the
  // stream ends and gives back its call slot at once, unread status and all.
  await sleep(stallMs + 1500);
  out.list_while_paused = await outcome(call(lender.cases, "ListCases", {}));
  out.last_while_paused = last;

  const resumedAt = Date.now();
  watch.call.resume();
  await watch.until(() => false, 15_000);
  out.first = { numbers: watch.numbers(caseId), ended: watch.ended, ended_after_resume_ms: watch.ended && watch.endedAt - resumedAt };
  watch.call.cancel();

  // More events after the stream ended: the new stream must deliver them too.
  for (let n = 0; n < 3; n++) await recovered();
  const cursor = watch.messages.length ? watch.lastCursor() : "";
  out.resume_cursor = cursor;
  const again = new Watch(lender.cases, { cursor }, errorTypes);
  await again.until(() => again.numbers(caseId).includes(last), 30_000);
  await again.until(() => false, 1_000); // nothing more may come
  out.second = { numbers: again.numbers(caseId), ended: again.ended };
  again.call.cancel();
  out.last = last;
  for (const c of [lender, court]) for (const client of Object.values(c)) client.close();
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
