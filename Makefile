SWIFT ?= swift
RELEASE := .build/release
DEMO_HOME := $(CURDIR)/.demo

.PHONY: build release demo test bench format clean

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release --product orch
	$(SWIFT) build -c release --product orch-worker

# Trains the demo sweep (24 engine jobs on the built-in digits data) through a fresh daemon,
# prints the summary table and each config's final metrics.
demo: release
	@rm -rf $(DEMO_HOME)
	@ORCH_HOME=$(DEMO_HOME) $(RELEASE)/orch configs '^demo/' --sweeps sweeps
	ORCH_HOME=$(DEMO_HOME) $(RELEASE)/orch submit sweeps/demo.yaml --wait --output-root $(DEMO_HOME)/runs
	@ORCH_HOME=$(DEMO_HOME) $(RELEASE)/orch results demo --metrics test_acc,test_loss,train_acc
	@ORCH_HOME=$(DEMO_HOME) $(RELEASE)/orch daemon --stop

# Builds the binaries first: the integration tests drive them.
test: build
	$(SWIFT) test

bench: release
	bench/dispatch/run.sh
	bench/sbatch/run.sh
	bench/expand/run.sh
	bench/idle/run.sh
	bench/engine/run.sh
	bench/engine/startup.sh
	bench/slurm/run.sh

format:
	$(SWIFT) format --in-place --recursive Sources Tests Package.swift

clean:
	rm -rf .build .demo
