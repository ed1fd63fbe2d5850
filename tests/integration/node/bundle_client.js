// A bank's Node.js client that fetches an evidence bundle and a loan dossier and
// writes them as the files `court-verify bundle|dossier` read (docs/bundles.md):
// @grpc/grpc-js over mutual TLS, @grpc/proto-loader loading the repository's
// .proto files with the options that give protobuf's JSON mapping
// (lowerCamelCase names, 64-bit integers as strings, bytes as base64, enums
// by name, fields at their default left out), and the one thing proto-loader
// does not do: a google.protobuf.Timestamp (`anchor.anchor.confirmedAt`)
// written as an RFC 3339 string.
//
// Usage: node bundle_client.js HOST:PORT ROOT-CA.pem CERT.pem KEY.pem DOCUMENT OUT-DIR
// Registers DOCUMENT's SHA-256 twice on one loan, waits until the first record's
// bundle carries its anchor, then writes OUT-DIR/bundle.json, OUT-DIR/dossier.json
// and OUT-DIR/bundle-plain.json (JSON.stringify of proto-loader's object, no
// Timestamp conversion), and prints one JSON object: the entry ids, the loan and
// the sizes ListCheckpoints listed (two at a time, following next_page_token).
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const { INCLUDE, call } = require("./common.js");

// The options of docs/bundles.md ("Writing the files from Node.js").
const JSON_OPTIONS = { keepCase: false, longs: String, enums: String, bytes: String, defaults: false };

function loadServices() {
  const definition = protoLoader.loadSync(
    [
      "evidence_gateway/v1/evidence_service.proto",
      "evidence_gateway/v1/verification_service.proto",
      "evidence_gateway/v1/log_service.proto",
    ],
    { includeDirs: INCLUDE, ...JSON_OPTIONS },
  );
  return grpc.loadPackageDefinition(definition).evidence_gateway.v1;
}

// google.protobuf.Timestamp in protobuf's JSON mapping: RFC 3339, UTC, "Z".
function timestampJson({ seconds, nanos }) {
  const whole = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return nanos ? `${whole}.${String(nanos).padStart(9, "0")}Z` : `${whole}Z`;
}

// The only Timestamp in EvidenceBundle and Dossier is Anchor.confirmed_at.
function canonicalJson(message) {
  return JSON.stringify(
    message,
    (key, value) => (key === "confirmedAt" && value ? timestampJson(value) : value),
    2,
  );
}

function submission(loanRef, digest) {
  return {
    requestId: crypto.randomUUID(),
    loanRef,
    kind: "EVIDENCE_KIND_LOAN_CONTRACT",
    hashAlgorithm: "HASH_ALGORITHM_SHA256",
    digest,
    occurredAt: { seconds: String(Math.floor(Date.now() / 1000) - 60), nanos: 0 },
  };
}

async function anchoredBundle(verification, entryId) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { bundle } = await call(verification, "GetEvidenceBundle", { entryId });
    if (bundle.anchor) return bundle;
    if (Date.now() > deadline) throw new Error(`the bundle of ${entryId} was not anchored in 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function listCheckpoints(log) {
  const sizes = [];
  let pageToken = "";
  for (let page = 0; page < 1000; page++) {
    const answer = await call(log, "ListCheckpoints", { fromSize: "0", pageSize: 2, pageToken });
    for (const checkpoint of answer.checkpoints) sizes.push(checkpoint.size);
    pageToken = answer.nextPageToken || "";
    if (!pageToken) return sizes;
  }
  throw new Error("ListCheckpoints did not end");
}

async function main() {
  const [address, ca, cert, key, document, outDir] = process.argv.slice(2);
  const v1 = loadServices();
  const credentials = grpc.credentials.createSsl(
    fs.readFileSync(ca),
    fs.readFileSync(key),
    fs.readFileSync(cert),
  );
  const evidence = new v1.EvidenceService(address, credentials);
  const verification = new v1.VerificationService(address, credentials);
  const log = new v1.LogService(address, credentials);

  const digest = crypto.createHash("sha256").update(fs.readFileSync(document)).digest();
  const loanRef = `loan-node-${crypto.randomUUID().slice(0, 8)}`;
  const first = (await call(evidence, "SubmitEvidence", { submission: submission(loanRef, digest) })).receipt;
  const second = (await call(evidence, "SubmitEvidence", { submission: submission(loanRef, digest) })).receipt;

  const bundle = await anchoredBundle(verification, first.entryId);
  fs.writeFileSync(path.join(outDir, "bundle.json"), canonicalJson(bundle));
  fs.writeFileSync(path.join(outDir, "bundle-plain.json"), JSON.stringify(bundle, null, 2));
  const { dossier } = await call(verification, "GetDossier", { loanRef });
  fs.writeFileSync(path.join(outDir, "dossier.json"), canonicalJson(dossier));

  const sizes = await listCheckpoints(log);
  for (const client of [evidence, verification, log]) client.close();
  process.stdout.write(
    JSON.stringify({ entry_ids: [first.entryId, second.entryId], loan_ref: loanRef, checkpoint_sizes: sizes }) + "\n",
  );
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
