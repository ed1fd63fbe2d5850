// A bank's Node.js client of CaseService, as an integrator writes one from
// docs/cases.md and case_service.proto: @grpc/grpc-js over mutual TLS,
// @grpc/proto-loader loading the repository's .proto files with the options of
// docs/bundles.md (lowerCamelCase, 64-bit integers as strings, enums by name,
// fields at their default left out, so a cursor-only WatchCases message has no
// `event`).
//
// Usage: node case_client.js HOST:PORT ROOT-CA.pem IDENTITIES-DIR
// IDENTITIES-DIR holds NAME.pem and NAME.key (`notary institution add --out`) of
// bank-n (lender), court-a and court-o (courts) and arb-n (arbitration).
//
// The lender files a case for a loan with court-a and watches WatchCases; it
// disconnects after two events, the court records two more meanwhile, and it
// resumes with the last cursor while the court records a fifth. It files two more
// cases and pages through ListCases two at a time. It collects the errors a
// client must handle, and the heartbeats of an idle stream (arb-n, no cases).
// Prints one JSON object of what it saw; the Python test asserts on it.
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const { INCLUDE, call } = require("./common.js");
const { Watch: BaseWatch } = require("./watch.js");

const JSON_OPTIONS = { keepCase: false, longs: String, enums: String, bytes: String, defaults: false };
// The proto: a cursor-only message at least every 30 s, or the gateway's
// [cases] heartbeat_seconds (the optional 4th argument; the test sets it short).
const HEARTBEAT_SECONDS = Number(process.argv[5] || 30);
const HEARTBEAT_WAIT_MS = (HEARTBEAT_SECONDS + 10) * 1000;

function loadServices() {
  const definition = protoLoader.loadSync(
    ["evidence_gateway/v1/evidence_service.proto", "evidence_gateway/v1/case_service.proto"],
    { includeDirs: INCLUDE, ...JSON_OPTIONS },
  );
  return grpc.loadPackageDefinition(definition).evidence_gateway.v1;
}

// The error of a call that must fail: {code, name, message}.
async function refusal(promise) {
  try {
    await promise;
  } catch (error) {
    return { code: error.code, name: grpc.status[error.code], message: error.details };
  }
  throw new Error("the call succeeded where it must fail");
}

const now = () => ({ seconds: String(Math.floor(Date.now() / 1000)), nanos: 0 });

// A WatchCases stream (watch.js) that reports its error as this test expects.
class Watch extends BaseWatch {
  constructor(client, request) {
    super(client, request, (error) => ({ code: error.code, name: grpc.status[error.code], message: error.details }));
  }

  async nextEvents(n) {
    await this.until(() => this.events().length >= n, 30_000);
    if (this.events().length < n) {
      throw new Error(`WatchCases: ${this.events().length} events of ${n}; ended ${JSON.stringify(this.ended)}`);
    }
    return this.events();
  }

  async cancel() {
    this.call.cancel();
    await this.until(() => false, 5_000);
  }
}

function clients(v1, address, rootCa, dir, name) {
  const credentials = grpc.credentials.createSsl(
    rootCa,
    fs.readFileSync(path.join(dir, `${name}.key`)),
    fs.readFileSync(path.join(dir, `${name}.pem`)),
  );
  return {
    evidence: new v1.EvidenceService(address, credentials),
    cases: new v1.CaseService(address, credentials),
  };
}

async function record(lender, loanRef, text) {
  const digest = crypto.createHash("sha256").update(text).digest("base64");
  const submission = {
    requestId: crypto.randomUUID(),
    loanRef,
    kind: "EVIDENCE_KIND_LOAN_CONTRACT",
    hashAlgorithm: "HASH_ALGORITHM_SHA256",
    digest,
    occurredAt: { seconds: String(Math.floor(Date.now() / 1000) - 60), nanos: 0 },
  };
  return (await call(lender.evidence, "SubmitEvidence", { submission })).receipt.entryId;
}

function fileRequest(requestId, loanRef, body, reliedOn, minorUnits = "5000000") {
  const expires = { seconds: String(Math.floor(Date.now() / 1000) + 180 * 86400), nanos: 0 };
  return {
    requestId,
    loanRef,
    body,
    claim: { currencyCode: "CNY", minorUnits },
    reliedOnEntryIds: reliedOn,
    shareExpiresAt: expires,
  };
}

function summary(message) {
  const e = message.event;
  return { cursor: message.cursor, caseId: e.caseId, number: e.eventNumber, type: e.type, status: e.status };
}

async function main() {
  const [address, rootCaFile, dir] = process.argv.slice(2);
  const v1 = loadServices();
  const rootCa = fs.readFileSync(rootCaFile);
  const [lender, court, other, arb] = ["bank-n", "court-a", "court-o", "arb-n"].map((name) =>
    clients(v1, address, rootCa, dir, name),
  );
  const out = {};
  const suffix = crypto.randomUUID().slice(0, 8);
  const loans = [1, 2, 3].map((n) => `loan-n${n}-${suffix}`);

  // An idle stream (arb-n has no case): cursor-only messages, at its start and
  // at least every HEARTBEAT_SECONDS.
  const idle = new Watch(arb.cases, {});
  const idleDone = idle.until(() => idle.messages.length >= 2, HEARTBEAT_WAIT_MS);

  const relied = [await record(lender, loans[0], "contract 1"), await record(lender, loans[0], "notice 1")];
  const watch = new Watch(lender.cases, { cursor: "" });
  await watch.until(() => watch.messages.length >= 1, 30_000);
  out.first_message = watch.messages[0];

  const filing = fileRequest(`file-1-${suffix}`, loans[0], "court-a", relied);
  const filed = (await call(lender.cases, "FileCase", filing)).case;
  const caseId = filed.caseId;
  out.filed = { caseId, status: filed.status, events: (filed.events || []).length, nextEvents: filed.nextEvents };
  out.file_again = (await call(lender.cases, "FileCase", filing)).case.caseId;
  out.file_reused_id = await refusal(
    call(lender.cases, "FileCase", fileRequest(filing.requestId, loans[0], "court-a", relied, "6000000")),
  );
  out.file_open_case = await refusal(
    call(lender.cases, "FileCase", fileRequest(`file-1b-${suffix}`, loans[0], "court-a", relied)),
  );

  await call(court.cases, "AcceptCase", {
    requestId: `acc-${suffix}`,
    caseId,
    caseNumber: "(2026)京0105民初12345号",
    occurredAt: now(),
  });
  const before = (await watch.nextEvents(2)).map(summary);
  const cursor = watch.lastCursor();
  await watch.cancel(); // the bank's subscriber goes away mid-stream
  out.disconnect = watch.ended;

  const update = (who, event, extra = {}) =>
    call(who.cases, "UpdateCaseStatus", {
      requestId: `${event}-${suffix}-${crypto.randomUUID().slice(0, 4)}`,
      caseId,
      event,
      occurredAt: now(),
      ...extra,
    });
  await update(court, "CASE_EVENT_TYPE_JUDGMENT");
  await update(court, "CASE_EVENT_TYPE_ENFORCEMENT_STARTED");
  const resumed = new Watch(lender.cases, { cursor });
  const recovered = await update(court, "CASE_EVENT_TYPE_AMOUNT_RECOVERED", {
    amount: { currencyCode: "CNY", minorUnits: "1000000" },
  });
  out.recovered_total = recovered.event.recoveredTotal;
  await resumed.nextEvents(3);
  await resumed.until(() => resumed.events().length > 3, 1_500); // nothing more may come
  out.events = [...before, ...resumed.events().map(summary)];
  out.resumed_first_cursor = resumed.messages[0].cursor;
  out.resume_cursor = cursor;
  await resumed.cancel();

  // Errors an integrator handles.
  out.award_by_court = await refusal(update(court, "CASE_EVENT_TYPE_AWARD"));
  out.accept_by_lender = await refusal(
    call(lender.cases, "AcceptCase", { requestId: `x-${suffix}`, caseId, caseNumber: "1", occurredAt: now() }),
  );
  out.get_by_other_court = await refusal(call(other.cases, "GetCase", { caseId }));
  out.get_unknown = await refusal(call(court.cases, "GetCase", { caseId: "no-such-case" }));
  const badCursor = new Watch(lender.cases, { cursor: "not-a-cursor" });
  await badCursor.until(() => false, 10_000);
  out.bad_cursor = badCursor.ended;

  // ListCases, two at a time, in filing order.
  for (const n of [1, 2]) {
    const entry = await record(lender, loans[n], `contract ${n + 1}`);
    await call(lender.cases, "FileCase", fileRequest(`file-${n + 1}-${suffix}`, loans[n], "court-a", [entry]));
  }
  const pages = [];
  let pageToken = "";
  for (let page = 0; page < 10; page++) {
    const answer = await call(lender.cases, "ListCases", { pageSize: 2, pageToken });
    pages.push((answer.cases || []).map((c) => [c.loanRef, c.status, (c.events || []).length]));
    pageToken = answer.nextPageToken || "";
    if (!pageToken) break;
  }
  out.pages = pages;
  const firstPage = await call(lender.cases, "ListCases", { pageSize: 1 });
  out.token_of_other_query = await refusal(
    call(lender.cases, "ListCases", { pageSize: 1, pageToken: firstPage.nextPageToken, statuses: ["CASE_STATUS_FILED"] }),
  );
  out.negative_page_size = await refusal(call(lender.cases, "ListCases", { pageSize: -1 }));
  const filedWithCourt = await call(court.cases, "ListCases", { statuses: ["CASE_STATUS_FILED"] });
  out.court_filed = (filedWithCourt.cases || []).map((c) => [c.lender, c.loanRef, c.nextEvents]);

  await idleDone;
  out.idle = {
    messages: idle.messages.map((m) => ({ hasEvent: Boolean(m.event), cursor: m.cursor })),
    gapMs: idle.messages.length >= 2 ? idle.messages[1].receivedAt - idle.messages[0].receivedAt : null,
  };
  await idle.cancel();
  for (const c of [lender, court, other, arb]) for (const client of Object.values(c)) client.close();
  out.loans = loans;
  out.case_id = caseId;
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
