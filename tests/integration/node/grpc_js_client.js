// A lender's Node.js client of the gateway, as an integrator writes one:
// @grpc/grpc-js with @grpc/proto-loader loading the repository's .proto files.
//
// Usage: node grpc_js_client.js HOST:PORT
// Prints one JSON object: the trust info's log key, a receipt for a valid
// submission, and the error for a submission whose digest is one byte short
// (code, message, and the google.rpc.BadRequest decoded from the
// grpc-status-details-bin trailer with the vendored error_details.proto);
// then `stream`: the answers of one SubmitEvidenceStream that sends a message
// of three `submissions` (the second a byte short), a message of one
// `submission`, and a message of 1,001 `submissions` (one too many), and how
// the stream ended.
"use strict";

const crypto = require("node:crypto");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const { INCLUDE, call, loadErrorRoot } = require("./common.js");


function loadServices() {
  const definition = protoLoader.loadSync(
    ["evidence_gateway/v1/evidence_service.proto", "evidence_gateway/v1/log_service.proto"],
    { includeDirs: INCLUDE, keepCase: true, longs: String, enums: String, defaults: true, oneofs: true },
  );
  return grpc.loadPackageDefinition(definition).evidence_gateway.v1;
}

function loadErrorTypes() {
  const root = loadErrorRoot();
  return {
    Status: root.lookupType("google.rpc.Status"),
    BadRequest: root.lookupType("google.rpc.BadRequest"),
  };
}

function submission(requestId, digest) {
  const seconds = Math.floor(Date.now() / 1000) - 60;
  return {
    request_id: requestId,
    loan_ref: "loan-node-0001",
    kind: "EVIDENCE_KIND_REPAYMENT",
    hash_algorithm: "HASH_ALGORITHM_SHA256",
    digest,
    occurred_at: { seconds: String(seconds), nanos: 0 },
  };
}

function violations(error, types) {
  const [raw] = error.metadata.get("grpc-status-details-bin");
  return badRequest(types.Status.decode(raw), types);
}

// The field violations of a google.rpc.Status (a trailer's, or a stream result's error).
function badRequest(status, types) {
  const out = [];
  for (const detail of status.details) {
    if (detail.type_url === "type.googleapis.com/google.rpc.BadRequest") {
      for (const v of types.BadRequest.decode(detail.value).field_violations) {
        out.push([v.field, v.description]);
      }
    }
  }
  return out;
}

// A stream result's outcome: [request_id, "receipt", leaf_index] or
// [request_id, "error", code, message, violations].
function outcome(result, types) {
  if (result.result === "receipt") return [result.request_id, "receipt", result.receipt.leaf_index];
  const { code, message } = result.error;
  return [result.request_id, "error", code, message, badRequest(result.error, types)];
}

// One SubmitEvidenceStream: each message written, then the half-close; the answers
// (one per message, in order) and the stream's end, as outcomes.
function stream(client, messages, types) {
  return new Promise((resolve) => {
    const call = client.SubmitEvidenceStream({ deadline: new Date(Date.now() + 60_000) });
    const answers = [];
    call.on("data", (response) =>
      answers.push(
        response.results.length
          ? { results: response.results.map((r) => outcome(r, types)) }
          : { result: outcome(response, types) },
      ),
    );
    call.on("error", (error) => resolve({ answers, status: grpc.status[error.code], details: error.details }));
    call.on("end", () => resolve({ answers, status: "OK" }));
    for (const message of messages) call.write(message);
    call.end();
  });
}

async function main() {
  const address = process.argv[2];
  const v1 = loadServices();
  const types = loadErrorTypes();
  const credentials = grpc.credentials.createInsecure();
  const evidence = new v1.EvidenceService(address, credentials);
  const log = new v1.LogService(address, credentials);
  const out = {};

  const trust = await call(log, "GetTrustInfo", {});
  out.log_verifier_key = trust.log_verifier_key;

  const digest = crypto.createHash("sha256").update("a repayment record").digest();
  const { receipt } = await call(evidence, "SubmitEvidence", {
    submission: submission(crypto.randomUUID(), digest),
  });
  out.receipt = {
    entry_id: receipt.entry_id,
    leaf_index: receipt.leaf_index,
    tree_size: receipt.checkpoint.size,
    signed_note: receipt.checkpoint.signed_note,
  };

  try {
    await call(evidence, "SubmitEvidence", {
      submission: submission(crypto.randomUUID(), digest.subarray(0, 31)),
    });
    out.error = null;
  } catch (error) {
    out.error = {
      code: error.code,
      code_name: grpc.status[error.code],
      details: error.details, // what grpc-js shows: the status message
      violations: violations(error, types),
    };
  }
  const many = (prefix, count) =>
    Array.from({ length: count }, (_, i) => submission(`${prefix}-${i}-${crypto.randomUUID()}`, crypto.randomBytes(32)));
  const three = many("node-stream", 3);
  three[1].digest = three[1].digest.subarray(0, 31);
  out.stream = await stream(
    evidence,
    [{ submissions: three }, { submission: many("node-one", 1)[0] }, { submissions: many("node-over", 1001) }],
    types,
  );
  out.stream.sent = three.map((s) => s.request_id);

  evidence.close();
  log.close();
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
