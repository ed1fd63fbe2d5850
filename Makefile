# Two commands matter: `make run` and `make test`. Both set up whatever is missing first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= ./data
NOTARY_LISTEN ?= 127.0.0.1:3180
GATEWAY_LISTEN ?= 127.0.0.1:50051
ANVIL_PORT ?= 8545
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed

.PHONY: run test bench fuzz lint typecheck setup lock protos contracts court-verify-dist clean

setup: $(STAMP) $(NODE_STAMP)

# The virtual environment is made from the hash-pinned lock file only.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Pinned command-line tools (buf, solc-js, anvil) from package-lock.json.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

# Lint the API contract and regenerate its committed Python stubs (commit the result).
protos: $(STAMP) $(NODE_STAMP)
	node_modules/.bin/buf lint protos
	node_modules/.bin/buf format --diff --exit-code protos
	$(BIN)/python scripts/gen_protos.py

# Compile contracts/EvidenceAnchor.sol with the pinned solc-js into its committed artifact
# gateway/anchor/artifacts/EvidenceAnchor.json (package data; commit the result; a test
# fails on drift).
contracts: $(STAMP) $(NODE_STAMP)
	$(BIN)/python scripts/compile_contracts.py

# The court's own distribution (dist/court-verify): a wheel with only the verifier
# (package court), the *_pb2 message modules and a subset of the pinned Noto Sans SC font,
# built offline into dist/wheels/. Install it elsewhere with
# `pip install dist/wheels/court_verify-*.whl` (add [fetch] for `court-verify fetch`).
court-verify-dist: $(STAMP) $(NODE_STAMP)
	$(BIN)/python scripts/build_court_verify.py --out dist/wheels

# Regenerate the lock file after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --strip-extras --allow-unsafe --generate-hashes --extra dev -o requirements.lock pyproject.toml

# A local chain node (anvil, its state kept in $(DATA_DIR)/chain), the notary's HTTP TSA and
# the gateway (mutual TLS, anchoring its checkpoints on the chain) in the background. On first
# start the contract is deployed once (its address in $(DATA_DIR)/anchor/contract) and the
# lender dev-bank is registered (its certificate and key in $(DATA_DIR)/institutions); its
# paths and a Python example are printed. Ctrl-C stops all three. The notary and the gateway
# share the PKI and the TSA serial-number state, so serials stay unique across both.
run: $(STAMP) $(NODE_STAMP)
	@test -f $(DATA_DIR)/pki/tsa.pem || $(BIN)/notary pki init --out $(DATA_DIR)/pki
	@test -f $(DATA_DIR)/anchor/submitter.key || \
		$(BIN)/notary anchor init --out $(DATA_DIR)/anchor/submitter.key
	@mkdir -p $(DATA_DIR)/chain; \
	node_modules/.bin/anvil --host 127.0.0.1 --port $(ANVIL_PORT) --silent --block-time 1 \
		--state $(DATA_DIR)/chain/anvil-state.json --state-interval 5 & \
	anvil=$$!; \
	$(BIN)/notary serve --pki $(DATA_DIR)/pki --listen $(NOTARY_LISTEN) --state-dir $(DATA_DIR)/notary & \
	notary=$$!; \
	trap 'kill $$notary $$gateway $$anvil 2>/dev/null; wait $$notary $$gateway $$anvil' EXIT INT TERM; \
	$(BIN)/notary anchor deploy --rpc http://127.0.0.1:$(ANVIL_PORT) --wait 30 \
		--key $(DATA_DIR)/anchor/submitter.key --pki $(DATA_DIR)/pki \
		--address-file $(DATA_DIR)/anchor/contract --dev-balance 1000 || exit 1; \
	printf '%s\n' 'data_dir = ".."' '[anchor]' 'enabled = true' 'interval_seconds = 10' '' '[[anchor.chains]]' \
		'name = "anvil"' 'rpc_url = "http://127.0.0.1:$(ANVIL_PORT)"' \
		"contract = \"$$(cat $(DATA_DIR)/anchor/contract)\"" \
		'key_file = "submitter.key"' 'chain_id = 31337' > $(DATA_DIR)/anchor/gateway.toml; \
	GATEWAY_DATA_DIR=$(DATA_DIR) GATEWAY_LISTEN=$(GATEWAY_LISTEN) \
		$(BIN)/gateway serve --config $(DATA_DIR)/anchor/gateway.toml & \
	gateway=$$!; \
	institution="dev-bank --gateway $(GATEWAY_LISTEN) --pki $(DATA_DIR)/pki --out $(DATA_DIR)/institutions --wait 120"; \
	if test -f $(DATA_DIR)/institutions/dev-bank.pem; then \
		$(BIN)/notary institution show $$institution; \
	else \
		$(BIN)/notary institution add --role lender $$institution; \
	fi; \
	echo "anchoring: every 10 s on anvil at http://127.0.0.1:$(ANVIL_PORT) (a block a second, state in $(DATA_DIR)/chain);" \
		"see it with: notary anchor status --gateway $(GATEWAY_LISTEN) --pki $(DATA_DIR)/pki"; \
	wait $$gateway

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck $(NODE_STAMP)
	$(BIN)/pytest

# Every atheris fuzz target (fuzz/targets.py) for FUZZ_SECONDS each, from the committed seeds
# (fuzz/corpus/TARGET); the corpus it grows stays in fuzz/work/, findings go to fuzz/findings/
# and stop the run (fuzz/README.md). `make test` runs each for a few seconds.
FUZZ_SECONDS ?= 60
fuzz: $(STAMP)
	for target in $$($(BIN)/python -m fuzz --list); do \
		$(BIN)/python -m fuzz $$target --seconds $(FUZZ_SECONDS) || exit 1; \
	done

# The write-path and read benchmarks build their big logs once under $(DATA_DIR)/bench (3 to
# 11 minutes for 1,000,000 entries; read sizes: BENCH_READ_SIZES=10000,1000000) and reuse them
# on later runs; the write-path one also writes to a copy of the 1,000,000-entry log (2.8 GB
# in TMPDIR, deleted afterwards; about 3.5 minutes a run). The anchoring gas benchmark runs
# its own anvil (sizes: BENCH_ANCHOR_SIZES=10,10000,1000000).
# The ledger alone (no gRPC), on SQLite and then on PostgreSQL (a temporary schema of BENCH_PG_URL).
BENCH_PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
bench: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m bench.tsa
	$(BIN)/python -m bench.token
	$(BIN)/python -m bench.leaf
	$(BIN)/python -m bench.court_bundle
	$(BIN)/python -m bench.gateway --rate 500
	DATA_DIR=$(DATA_DIR) $(BIN)/python -m bench.writepath --log-size 1000000
	$(BIN)/python -m bench.ledger --processes 1
	$(BIN)/python -m bench.ledger --processes 1 --url $(BENCH_PG_URL)
	$(BIN)/python -m bench.loanmap
	$(BIN)/python -m bench.cases
	$(BIN)/python -m bench.tls
	$(BIN)/python -m bench.anchoring
	DATA_DIR=$(DATA_DIR) $(BIN)/python -m bench.reads
	$(BIN)/python -m bench.anchor_gas

clean:
	rm -rf $(VENV) node_modules .mypy_cache .pytest_cache .ruff_cache .hypothesis
