# The two commands a newcomer needs are `make up` and `make test` (see README.md).
# Every target installs what it needs first: Debian packages (scripts/deps.sh)
# and tools built from Go modules into ~/.cache/meshready (meshready tools).

GO    ?= go
STACK ?= local
BIN   := bin/meshready

.PHONY: up down test deps tools test-tools build lint fuzz

up: deps build tools
	$(BIN) up --stack $(STACK) --yes

down: build
	$(BIN) destroy --stack $(STACK) --yes

# -p 1: packages one at a time. Inside the CLI's package the tests that
# boot local clusters run two at a time, and the ones that start only
# processes one at a time beside them (cli/main_test.go says why and
# holds them to it); -parallel only has to be above their number.
# Nothing is compiled while they run but the plain `pulumi up` test's
# program (meshready again, from the build cache): test-tools built the rest.
test: deps build test-tools lint
	$(GO) test -p 1 -parallel 32 -count=1 -timeout 80m ./...
	$(MAKE) fuzz

# The parsers of what remote hosts print, fuzzed for a bounded number of
# inputs each (their seeds, from testdata/, also run in every go test). A
# count, not a duration: Go 1.26's fuzz coordinator can fail a target with
# "context deadline exceeded" when a duration ends mid-input (go.dev/issue/75804,
# fixed in Go 1.27), with nothing found.
FUZZ := benchmarks:FuzzParseFio benchmarks:FuzzParseFortio benchmarks:FuzzStealFromProcStat \
	benchmarks:FuzzParsePing benchmarks:FuzzParseFacts mesh:FuzzKubectlJSON \
	bootstrap:FuzzEtcdManifest bootstrap:FuzzParseEvictable bootstrap:FuzzCheckSnapshot \
	bootstrap:FuzzParseNodeStatus bootstrap:FuzzCgroupV1Patch bootstrap:FuzzParseSubnetEnv \
	conformance:FuzzParseJUnit
FUZZTIME ?= 50000x

fuzz:
	@set -e; for t in $(FUZZ); do pkg=$${t%%:*}; fn=$${t#*:}; \
	  echo "fuzz $$fn ($(FUZZTIME))"; \
	  out=$$($(GO) test -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=100x ./$$pkg 2>&1) || \
	  { echo "$$out" | tail -40; exit 1; }; done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

build:
	$(GO) build -o $(BIN) .
	@mkdir -p .meshready/bin .meshready/state && ln -sfn ../../$(BIN) .meshready/bin/pulumi-resource-meshready

# The Pulumi CLI, the air-gapped Kubernetes bundle and the local mesh (about
# 40 minutes the first time on 2 cores, with progress; then seconds).
tools: build
	$(BIN) tools --kubernetes --mesh

# The tests also upgrade a local cluster to the next Kubernetes release and
# Istio snapshot (about 20 minutes more the first time), and run the
# conformance suite (2 minutes more): built before any test starts.
test-tools: build
	$(BIN) tools --kubernetes --all-releases --mesh --conformance

deps:
	scripts/deps.sh
