// What the Node.js client tests share: where the gateway's .proto files are, a unary
// call as a promise (30 s deadline), and google.rpc's error types for decoding a
// status's details (grpc-status-details-bin).
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const protobuf = require("protobufjs");

const PROTOS = path.resolve(__dirname, "..", "..", "..", "protos");
const INCLUDE = [PROTOS, path.join(PROTOS, "third_party")];

function call(client, method, request) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + 30_000);
    client[method](request, { deadline }, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

// google.rpc.Status and error_details.proto's messages, loaded from the repository's copies.
function loadErrorRoot() {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const dir of INCLUDE) {
      const candidate = path.join(dir, target);
      if (fs.existsSync(candidate)) return candidate;
    }
    return target; // google/protobuf/*.proto: protobufjs has them built in
  };
  root.loadSync(["google/rpc/status.proto", "google/rpc/error_details.proto"], { keepCase: true });
  return root;
}

module.exports = { INCLUDE, PROTOS, call, loadErrorRoot };
