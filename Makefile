# The appliance's build. `make run` starts the local demo, `make test` runs
# every test; both install what they need first (`make deps`, idempotent).

GO       ?= go
STATE    ?= $(CURDIR)/.demo
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests and the demo use: SoftHSM2 (the development
# HSM), OpenSC's pkcs11-tool and OpenSSL (checking outputs with tools we did
# not write), systemd-analyze (the unit's exposure check), qpdf (checks an
# uploaded PDF in a separate process before our parser reads it) and
# poppler-utils (pdftoppm previews the page being signed; pdfsig in tests).
APT_PACKAGES := softhsm2 opensc openssl systemd ca-certificates qpdf poppler-utils
# Only the tests: Debian's Chromium for the browser tests, NSS's certutil
# for pdfsig's trust store.
TEST_APT_PACKAGES := chromium fonts-liberation libnss3-tools

.PHONY: all deps test-deps apt build test run bench vet fmt clean

all: build

deps:
	@$(MAKE) --no-print-directory apt PACKAGES="$(APT_PACKAGES)"
	@$(GO) mod download

test-deps: deps
	@$(MAKE) --no-print-directory apt PACKAGES="$(TEST_APT_PACKAGES)"

# apt installs the Debian packages in PACKAGES that are missing, and nothing
# when all are there.
apt:
	@missing=""; for p in $(PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: bin/appliance

bin/appliance: $(shell find . -name '*.go' -not -path './.demo/*') $(shell find softhsm-testdata -type f) go.mod go.sum
	$(GO) build -trimpath -o $@ ./cmd/appliance

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

test: test-deps vet
	$(GO) test -count=1 -timeout 20m ./...
	bash systemd/check-exposure.sh

run: deps build
	bin/appliance demo --state $(STATE)

bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout $(if $(BENCH_USERS_KEYS),240m,20m) ./hsm/ ./ca/ ./ca/ocsp/ ./store/ ./ca/lint/ ./enrollment/portal/ ./enrollment/upload/ ./cmd/appliance/ ./signing/

clean:
	rm -rf bin
