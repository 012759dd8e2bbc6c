# Skiff build and test targets. `make test` is what CI runs (.ci/run).
GO        ?= go
BUILD_DIR ?= build
BINARIES  := mqnamesrv mqbroker mqadmin mqbench
PKGS      := ./...

.PHONY: all build run test unit itest compat fuzz bench bench-e2e lint ci clean

all: build

build:
	@mkdir -p $(BUILD_DIR)
	@for b in $(BINARIES); do CGO_ENABLED=0 $(GO) build -o $(BUILD_DIR)/$$b ./cmd/$$b || exit 1; done

# run: a single-node cluster in the foreground (scripts/quickstart.sh); it prints the dashboard's URL.
run:
	./scripts/quickstart.sh

# lint: formatting, vet, go.mod/go.sum exactly as `go mod tidy` leaves them (both modules), and
# the import rules (TestImportRules in internal/lint, rules in internal/lint/rules.go).
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	cd compat && $(GO) vet ./...
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
	@cd compat && { $(GO) mod tidy -diff || { echo "compat/go.mod/go.sum are not tidy: run (cd compat && go mod tidy)"; exit 1; }; }
	$(GO) test -count=1 ./internal/lint/

# unit: every package's tests with the race detector; process-based suites skip under -short.
unit:
	$(GO) test -race -shuffle=on -short -count=1 -timeout 10m $(PKGS)
	$(GO) test -count=1 -run '^TestInflateBound$$' ./client/ # skipped under -race (too slow there)

# itest: tests that start the real binaries as processes (the SDK runs in the test process, so
# with the race detector; the daemons are built without it).
itest:
	$(GO) test -race -count=1 -timeout 10m ./itest/... ./cmd/...

# compat: the official rocketmq-client-go v2.1.2 against real Skiff processes.
compat:
	cd compat && $(GO) test -count=1 -timeout 10m ./...

# test: everything CI runs.
test: lint unit itest compat

ci: test

fuzz:
	@for p in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$p 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$p $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime=15s $$p || exit 1; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench 'BenchmarkCommitLog(Baseline|Append)' -benchtime 2s ./commitlog/
	$(GO) test -run '^$$' -bench BenchmarkCommitLogOpen -benchtime 5x -timeout 30m ./commitlog/
	$(GO) test -run '^$$' -bench BrokerSendReplicated -benchtime 20000x ./broker/
	$(GO) test -run '^$$' -bench DashboardScale -benchtime 50x ./itest/

# bench-e2e: issue 11's end-to-end table (name server and broker from build/, SDK and official
# client load, a fixed-SEND_OK baseline server). E2E_FLAGS passes more flags, e.g. -d 20s or
# --perf /tmp/broker.perf. Run it under `flock /work/locks/heavy.lock` on a shared machine.
bench-e2e: build
	cd compat && $(GO) build -o ../$(BUILD_DIR)/officialbench ./cmd/officialbench
	$(BUILD_DIR)/mqbench e2e --bin $(BUILD_DIR) $(E2E_FLAGS)

clean:
	rm -rf $(BUILD_DIR)
