# Two commands do everything on a fresh machine:
#   make test-vm   install what is missing, fetch the kernel source, build the
#                  variants, boot them, run the matrix, print the verdicts
#   make test      the test suite, VM tests included
#   make test-lines  the nightly tier: every line's full matrix against the README's claims
# Slices:  make test-vm VARIANT=base WORKLOAD=extending
#          make test-vm LINE=6.1              (5.10 6.1 6.12 7.2 7.3-rc or all)
#          make test-vm LINE=6.12 VARIANT=revert-race WORKLOAD=fsync-race REPEAT=20
#          make test-vm LINE=7.2 CELL=rebreak:extending,shipped:fsync-race   (just those cells)
#          make build VARIANT=fixed           make test-vm CPUS=4
# Your own tree: make test-vm KERNEL_SRC=~/linux  (built as it is)

PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
SUDO    := $(if $(filter 0,$(shell id -u)),,sudo)
# the host tools the harness needs, as Debian packages
APT_PACKAGES := qemu-system-x86 qemu-utils btrfs-progs fio xfsprogs liburing-dev \
	libaio-dev flex bison bc libelf-dev libssl-dev cpio ccache git make gcc \
	binutils perl xz-utils lz4 kmod openssh-server openssh-client chromium dmsetup
comma := ,
VARIANT_ARGS  = $(foreach v,$(subst $(comma), ,$(VARIANT)),--variant $(v))
WORKLOAD_ARGS = $(foreach w,$(subst $(comma), ,$(WORKLOAD)),--workload $(w))
PATCH_ARGS    = $(foreach p,$(subst $(comma), ,$(PATCH)),--patch $(p))
LINE_ARGS     = $(foreach l,$(subst $(comma), ,$(LINE)),--line $(l))
CELL_ARGS     = $(foreach c,$(subst $(comma), ,$(CELL)),--cell $(c))
RUN_ARGS      = $(if $(CPUS),--cpus $(CPUS)) $(if $(REPEAT),--repeat $(REPEAT)) $(CELL_ARGS)

.PHONY: setup host-packages build test-vm test test-lines coverage bench parse-log clean-results explore

setup: host-packages $(VENV)/.installed

host-packages:
	@missing=$$(for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "setup: installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	@# `.venv/bin/python -m harness` from any directory (git bisect run in a kernel tree)
	$(PY) -c 'import pathlib, sys, sysconfig; pathlib.Path(sysconfig.get_paths()["purelib"], "kdsync-harness.pth").write_text(sys.argv[1] + "\n")' "$(CURDIR)"
	touch $@

build: setup
	$(PY) -m harness build $(LINE_ARGS) $(VARIANT_ARGS) $(PATCH_ARGS)

test-vm: setup
	$(PY) -m harness run $(LINE_ARGS) $(VARIANT_ARGS) $(WORKLOAD_ARGS) $(PATCH_ARGS) $(RUN_ARGS)

# the explorer: generated cases on a line's kernels (default 7.2, shipped and
# the write-through fix, 30 minutes), e.g.
#   make explore LINE=6.1 VARIANT=shipped DISK=fua BUDGET=10
#   make explore FS=btrfs,xfs,ext4 SHARD=2/4 SEED=3
EXPLORE_LINE    ?= 7.2
EXPLORE_VARIANT ?= shipped,fix-writethrough
BUDGET ?= 30
explore: setup
	$(PY) -m harness explore --line $(or $(LINE),$(EXPLORE_LINE)) \
		$(foreach v,$(subst $(comma), ,$(or $(VARIANT),$(EXPLORE_VARIANT))),--variant $(v)) \
		--budget $(BUDGET) $(if $(FS),--fs $(FS)) $(if $(DISK),--disk $(DISK)) \
		$(if $(SEED),--seed $(SEED)) $(if $(SHARD),--shard $(SHARD)) \
		$(if $(RESULTS),--results $(RESULTS))

# the suite, then the coverage floors (every tier checks them)
test: setup
	$(PY) -m pytest -ra -m "not lines" tests
	$(MAKE) --no-print-directory coverage

# the nightly tier: every line's full matrix against the README's claims
test-lines: setup
	$(PY) -m pytest -ra -m lines tests

# verdict.py and compare.py, each measured by its own unit tests only (no VMs)
COV := --cov-report=term-missing --cov-fail-under=90
coverage: setup
	$(PY) -m pytest -q tests/test_verdict.py --cov=harness.verdict $(COV)
	$(PY) -m pytest -q tests/test_compare.py --cov=harness.compare $(COV)

bench: setup
	$(PY) benchmarks/bench_build.py
	$(PY) benchmarks/bench_vm.py
	$(PY) benchmarks/bench_bisect.py
	$(PY) benchmarks/bench_parse.py

parse-log: setup
	$(PY) -m harness parse-log $(LOG)

clean-results:
	rm -rf results
