# Honeycomb's two commands, and a few more. Each installs what a fresh Debian + Swift
# machine lacks (deploy/local/install-deps.sh) before it builds.

SCENARIO ?= Scenarios/office-fleet.yaml
SWIFT ?= swift

.PHONY: simulate test gate bench validate deps clean

## make simulate — run the default scenario (no servers needed); SCENARIO=... for another.
simulate: deps
	$(SWIFT) build --product honeycomb
	$(SWIFT) run --skip-build honeycomb simulate $(SCENARIO)

## make test — the whole suite, with PostgreSQL, Redis, NATS JetStream and SeaweedFS on loopback.
test:
	deploy/local/run-tests.sh

## make gate — run the gate scenarios and compare them with the baselines in Reports/.
gate: deps
	deploy/ci/gate.sh

## make bench — the speed benchmarks, on a release build.
bench:
	@deploy/local/install-deps.sh --bench
	$(SWIFT) build -c release --product honeycomb
	.build/release/honeycomb bench all
	.build/release/honeycomb bench scale

## make validate — check every shipped scenario file.
validate: deps
	$(SWIFT) build --product honeycomb
	$(SWIFT) run --skip-build honeycomb validate Scenarios/*.yaml Scenarios/bench/*.yaml

deps:
	@deploy/local/install-deps.sh

clean:
	rm -rf .build Reports/runs
