# bluetill — make start  (installs what is missing, runs the demo)
#           make till   (a till with its cashier UI on http://127.0.0.1:8080, for simulated phones: npm run phones)
#           make test   (installs what is missing, runs every test)
SHELL := /bin/bash
NODES ?= 2
.SHELLFLAGS := -eu -o pipefail -c
export ELECTRON_SKIP_BINARY_DOWNLOAD := 1
export npm_config_update_notifier := false

INSTALLED := node_modules/.bluetill-installed
GENERATED := protocol/src/gen/.stamp
# The backend's native key operations (backend/native: the PIN key, the receipt signature), built against Node's own headers.
NATIVE := backend/native/build/Release/native_keys.node
PROTOS := $(shell find protocol/proto -name '*.proto')

.PHONY: start till test bench soak setup system lint typecheck unit clean cluster cluster-stop cluster-destroy

start: setup
	npx tsx simulator/src/demo/main.ts

till: setup
	npx tsx simulator/src/playground/main.ts

PACKAGES := protocol backend pos-terminal phone-agent simulator

test: setup
	npx tsc -p tsconfig.json --noEmit
	@# each package on its own too: the root sees every package's libraries (the renderer's DOM)
	@for p in $(PACKAGES); do npx tsc -p $$p/tsconfig.json --noEmit || exit 1; done
	npx eslint . --max-warnings=0
	@# the formatter's layout (110 columns): `npm run format` rewrites what this refuses
	npx prettier --check . --log-level warn
	@# no import cycle (type-only imports too), no undeclared cross-package import, no package cycle
	node scripts/check-imports.mjs
	node scripts/run-tests.mjs

bench: setup
	npx tsx tests/bench/run.ts

setup: system $(INSTALLED) $(GENERATED) $(NATIVE)

# Debian packages (pcscd, vpcd, chromium, ...): only what is missing.
system:
	@bash scripts/setup-system.sh

# npm's engine warnings (tools that ask for a newer Node than they need) and node-gyp's build lines
# go to .data/setup.log; a failure prints the log.
$(INSTALLED): package.json package-lock.json
	@mkdir -p .data
	@echo "setup: installing npm packages (npm ci; log: .data/setup.log)"
	@npm ci --no-audit --no-fund --loglevel=error > .data/setup.log 2>&1 || { cat .data/setup.log; exit 1; }
	@touch $@

$(GENERATED): $(PROTOS) protocol/buf.gen.yaml $(INSTALLED)
	@echo "setup: generating the protobuf code"
	@npm run gen --silent
	@touch $@

$(NATIVE): $(wildcard backend/native/*.c backend/native/*.h) backend/native/binding.gyp $(INSTALLED)
	@mkdir -p .data
	@echo "setup: building the backend's native key operations (node-gyp; log: .data/setup-native.log)"
	@npx --no-install node-gyp rebuild --directory backend/native > .data/setup-native.log 2>&1 || { cat .data/setup-native.log; exit 1; }
	@touch $@

lint: setup
	npx eslint .

typecheck: setup
	npx tsc -p tsconfig.json --noEmit
	@for p in $(PACKAGES); do npx tsc -p $$p/tsconfig.json --noEmit || exit 1; done

clean:
	rm -rf node_modules protocol/src/gen backend/native/build .data artifacts

soak: setup
	SOAK=1 node scripts/run-tests.mjs tests/faults

# The backend as a cluster on this machine, under .data/cluster: a pg_auto_failover cluster (monitor,
# primary, synchronous standby; loopback only), migrated and seeded with the demo registry the first
# time, and NODES backend nodes over its multi-host URL (default 2: NODES=3 make cluster); prints the
# addresses a till takes. Idempotent: a second run starts what is stopped. scripts/cluster.sh.
cluster: setup
	@NODES=$(NODES) bash scripts/cluster.sh start

# The backend nodes first (SIGTERM: each drains), then PostgreSQL; data kept.
cluster-stop:
	@bash scripts/cluster.sh stop

cluster-destroy:
	@bash scripts/cluster.sh destroy
