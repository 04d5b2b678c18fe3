SWIFT ?= swift
RELEASE := .build/release
DEMO_HOME := $(CURDIR)/.demo
REPRO_HOME ?= $(CURDIR)/.reproduce
REPRO_ORCH = ORCH_HOME=$(REPRO_HOME) $(RELEASE)/orch
REPRO_DATA_HOME ?= $(CURDIR)/.reproduce-data
REPRO_DATA_ORCH = ORCH_HOME=$(REPRO_DATA_HOME) $(RELEASE)/orch

.PHONY: check-system build release demo test fuzz bench format clean reproduce-transfer reproduce-data docs python

# The system packages the build needs (libopenblas-dev, libpcre2-dev, libsqlite3-dev, python3): installed when
# root, else the apt-get line to run is printed and make stops before building.
check-system:
	@deploy/check-system.sh

build: check-system
	$(SWIFT) build

release: check-system
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

# Papers 000 (bias transfer) and 004 (what is being transferred) at small scale: the source
# models, both p200 sweeps and the interpolation evaluations through a fresh daemon, then every
# analysis's table; plots go to $(REPRO_HOME)/plots. README "Reproducing the papers" shows a run.
reproduce-transfer: release
	@rm -rf $(REPRO_HOME)
	$(REPRO_ORCH) submit sweeps/p100_source.yaml --wait
	$(REPRO_ORCH) submit sweeps/p200_bias_transfer.yaml --wait
	$(REPRO_ORCH) submit sweeps/p200_what_is_transferred.yaml --wait
	$(REPRO_ORCH) analyze bias-transfer p200_bias_transfer --plot $(REPRO_HOME)/plots/bias-transfer.svg
	$(REPRO_ORCH) analyze block-shuffle p200_what_is_transferred --plot $(REPRO_HOME)/plots/block-shuffle.svg
	$(REPRO_ORCH) analyze trajectory p200_what_is_transferred --plot $(REPRO_HOME)/plots/trajectory.svg
	@for target in digits_rgb glyphs_heldout; do for init in randinit-lr0.1 finetune-lr0.02; do \
	  $(REPRO_ORCH) analyze interpolate train/$$target/cnn/$$init/seed0 train/$$target/cnn/$$init/seed1 \
	    --plot $(REPRO_HOME)/plots/interpolate-$$target-$$init.svg || exit 1; done; done
	@$(REPRO_ORCH) daemon --stop

# Papers 001 (class influences), 002 (effective robustness) and 003 (CAML) at small scale: each
# sweep through a fresh daemon, the counterfactual derived from the influence ordering and run, the
# pre-trained source the robustness sweep fine-tunes, then every analysis's table; plots go to
# $(REPRO_DATA_HOME)/plots. README "Reproducing the papers".
reproduce-data: release
	@rm -rf $(REPRO_DATA_HOME)
	$(REPRO_DATA_ORCH) submit sweeps/p300_caml.yaml --wait
	$(REPRO_DATA_ORCH) analyze groups p300_caml --plot $(REPRO_DATA_HOME)/plots/groups.svg
	$(REPRO_DATA_ORCH) submit sweeps/p300_influence.yaml --wait
	$(REPRO_DATA_ORCH) analyze influence p300_influence --target digits_rgb --out $(REPRO_DATA_HOME)/influence \
	  --plot $(REPRO_DATA_HOME)/plots/influence.svg
	$(REPRO_DATA_ORCH) derive counterfactual p300_influence --target digits_rgb --k 8:24:8 --remove all --seeds 4 \
	  --order $(REPRO_DATA_HOME)/influence/order.csv --out $(REPRO_DATA_HOME)/sweeps/p310_counterfactual.yaml
	$(REPRO_DATA_ORCH) submit $(REPRO_DATA_HOME)/sweeps/p310_counterfactual.yaml --wait
	$(REPRO_DATA_ORCH) analyze counterfactual p310_counterfactual --plot $(REPRO_DATA_HOME)/plots/counterfactual.svg
	$(REPRO_DATA_ORCH) submit sweeps/p100_source.yaml --match '^train/glyphs/cnn/' --wait
	$(REPRO_DATA_ORCH) submit sweeps/p300_effective_robustness.yaml --wait
	$(REPRO_DATA_ORCH) analyze effective-robustness p300_effective_robustness \
	  --plot $(REPRO_DATA_HOME)/plots/effective-robustness.svg
	@$(REPRO_DATA_ORCH) daemon --stop

# Builds the binaries first: the integration tests drive them. The Python package's tests run in
# it too (PythonPackageTests, with python3 and the working tree's python/).
test: build
	$(SWIFT) test

# docs/bindings.md, generated from the engine's schema; BindingReferenceTests fails when it is stale.
docs: build
	.build/debug/orch bindings --markdown > docs/bindings.md.tmp && mv docs/bindings.md.tmp docs/bindings.md

# Installs the Python package (python/) for this user; running it again reinstalls the same tree.
python:
	python3 -m pip install --quiet --user ./python 2>/dev/null || python3 -m pip install --quiet ./python \
	  || python3 -m pip install --quiet --break-system-packages ./python

# Each fuzz target for FUZZ_SECONDS (default 60) with a fresh seed; a failing input is left in
# Tests/FuzzTests/Corpus/<target>/crash-latest or hang-latest, to be committed under a real name.
FUZZ_SECONDS ?= 60
fuzz: build
	ORCH_FUZZ_SECONDS=$(FUZZ_SECONDS) ORCH_FUZZ_SEED=$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ') $(SWIFT) test --filter FuzzTests

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
