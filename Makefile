# The two commands a newcomer needs are in README.md:
#   go run ./cmd/cockpit demo     the main job
#   make test                     everything CI checks (.ci/run calls it)

GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOFILES      = $(shell find . -name '*.go' -not -path './.git/*')

.PHONY: test envtest promtest deps-aligned tmux chromium fmt-check vet staticcheck unit demo bench-load realcluster test-realcluster image

# test: the whole gate. Builds the test control plane into its cache first
# (cold ~10 min on 2 cores, warm: seconds), then static checks, then every
# test with the race detector. Kubernetes tests fail, never skip, here.
test: envtest promtest realcluster deps-aligned tmux chromium fmt-check vet staticcheck unit

# envtest: build kube-apiserver + etcd into ~/.cache/cockpit/envtest/... .
envtest:
	@hack/envtest/build.sh >/dev/null

# promtest: build prometheus + alertmanager into ~/.cache/cockpit/promtest/...
# for the prometheus/alertmanager probe tests (cold ~3.5 min on 2 cores).
promtest:
	@hack/promtest/build.sh >/dev/null

# realcluster: build the real single-node cluster (kubelet, containerd,
# kube-proxy, CoreDNS, kube-router, sealed-secrets, images) into
# ~/.cache/cockpit/realcluster/... and install the Debian packages it needs
# (README, "The real-cluster rig", has the cold and warm times). `make test`
# builds it first and its tests run on it (as root).
realcluster:
	@hack/realcluster/build.sh >/dev/null

# test-realcluster: the rig's own tests, then the product's tests on the
# rig (named ...OnRealCluster), on a real node (root; fail, never skip).
test-realcluster:
	COCKPIT_REALCLUSTER_BIN="$$(hack/realcluster/build.sh)" COCKPIT_REQUIRE_CONTROLPLANE=1 \
		$(GO) test -count=1 ./internal/realcluster/...
	COCKPIT_REALCLUSTER_BIN="$$(hack/realcluster/build.sh)" COCKPIT_REQUIRE_CONTROLPLANE=1 \
		$(GO) test -count=1 -run OnRealCluster ./runbook/actions ./probes ./cmd/cockpit

# deps-aligned: the rigs' modules share one Kubernetes client closure, so a
# cold build compiles it once, not once per module (hack/align-deps.sh; run
# it without -check to align them after a version bump).
deps-aligned:
	@hack/align-deps.sh -check

# tmux: the real-terminal test drives `cockpit demo` in tmux (Debian's
# package; installed here when missing, as root or with sudo).
tmux:
	@command -v tmux >/dev/null 2>&1 || { \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		echo "make: installing tmux (Debian) for the real-terminal test"; \
		$$sudo apt-get install -y -qq tmux >/dev/null 2>&1 || \
		{ $$sudo apt-get update -qq >/dev/null && $$sudo apt-get install -y -qq tmux >/dev/null; }; }

# chromium: the HTML report's test opens it in headless Chromium
# (hack/htmlcheck.sh; Debian's package, installed here when missing).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		echo "make: installing chromium (Debian) for the HTML report's test"; \
		$$sudo apt-get install -y -qq chromium >/dev/null 2>&1 || \
		{ $$sudo apt-get update -qq >/dev/null && $$sudo apt-get install -y -qq chromium >/dev/null; }; }

fmt-check:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# vet and staticcheck build as the rigs' binaries are built (CGO_ENABLED=0,
# -trimpath: hack/realcluster/build.sh builds the cockpit so), so the Go
# build cache has compiled every package they import already: run after
# `make realcluster`, they compile nothing more of it.
vet:
	CGO_ENABLED=0 $(GO) vet -trimpath ./...

staticcheck:
	CGO_ENABLED=0 GOFLAGS=-trimpath $(GO) run $(STATICCHECK) ./...

# unit: every test with the race detector, one package at a time (-p 1): the
# loader's accuracy tests measure time, and the real-cluster rig's start-up
# takes the machine's two cores for seconds; side by side they disturb
# each other. -p 1 also builds one package at a time, so every package the
# tests import is compiled first (race-instrumented) with -p left to the
# machine's cores: cold, that is minutes saved.
unit:
	$(GO) build -race $$($(GO) list -deps -test ./... | grep -v -e '\.test$$' -e ' \[')
	KUBEBUILDER_ASSETS="$$(hack/envtest/build.sh)" COCKPIT_PROMTEST_BIN="$$(hack/promtest/build.sh)" \
		COCKPIT_REALCLUSTER_BIN="$$(hack/realcluster/build.sh)" COCKPIT_REQUIRE_CONTROLPLANE=1 \
		$(GO) test -race -count=1 -p 1 ./...

demo:
	$(GO) run ./cmd/cockpit demo

# bench-load: cockpit load next to wrk, vegeta and hey (README, Performance).
bench-load:
	bench/load.sh

# bench-lag: corrected vs raw p50 and the generator lag at 200 and 2,000 req/s, the pacer's CPU (README, Performance).
.PHONY: bench-lag
bench-lag:
	bench/lag.sh

# bench-journal: journal bytes per minute of load at 100 and 10,000 req/s, the cost of one interval event (README, Performance).
.PHONY: bench-journal
bench-journal:
	bench/journal.sh

# bench-mem: the loader's heap after 10s, 60s and 300s of load (README, Performance).
.PHONY: bench-mem
bench-mem:
	$(GO) test ./loader -run '^$$' -bench BenchmarkMemoryFlat -benchtime 1x

# bench-probes: API requests and CPU of 20 vs 200 Kubernetes probes (README, Performance).
.PHONY: bench-probes
bench-probes:
	bench/probes.sh

# bench-tui: the TUI's CPU share while `cockpit load --rate 1000` runs (README, Performance).
.PHONY: bench-tui
bench-tui:
	bench/tui.sh

# image: the workers' image of `cockpit load --workers` (README, "Distributed
# load"), ko-style: this checkout's static binary (CGO off, -trimpath) as
# the single layer of an OCI image, no Dockerfile, all timestamps the epoch,
# so the same source gives the same digest. Writes cockpit-image.tar, a
# docker-archive tarball (docker load, ctr images import, crane push).
VERSION ?= dev
IMAGE   ?= ghcr.io/cockpit-dev/cockpit:$(VERSION)
image:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/cockpit-linux ./cmd/cockpit
	cd hack/realcluster/images && $(GO) run ./mkimage -tag $(IMAGE) -o $(CURDIR)/cockpit-image.tar -entrypoint /cockpit /cockpit=$(CURDIR)/bin/cockpit-linux
