# Berth: `make demo` installs and runs the main job, `make test` installs and runs the tests.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# What running berth needs (make demo), and what only the tests need besides: reference
# peers (dockerd, compose, skopeo, distribution), htpasswd and tmux. lxcfs: the containers' /proc
# view (docs/design/procview.md).
APT_PACKAGES := busybox-static runc crun iproute2 iptables libseccomp2 procps tini debootstrap lxcfs
TEST_APT_PACKAGES := tmux openssl skopeo docker-registry apache2-utils docker.io docker-compose gcc libc6-dev
DEMO_ROOT ?= /var/lib/berth
DEMO_EXEC ?= /run/berth

.PHONY: install install-test demo test check stop-demo bench

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
endef

$(VENV)/.installed-test: $(VENV)/.installed
	$(call apt_install,$(TEST_APT_PACKAGES))
	$(PY) -m pip install -q -e '.[test]'
	scripts/write-launcher
	touch $@

$(VENV)/.installed: pyproject.toml $(shell find src -name '*.py')
	$(call apt_install,$(APT_PACKAGES))
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	@# The environment may set PYTHONDONTWRITEBYTECODE; compiled once here, every berth start
	@# and every shim fork reads bytecode instead of recompiling the sources.
	$(PY) -m compileall -q src
	scripts/write-launcher
	touch $@

demo: install
	@if ! [ -S $(DEMO_EXEC)/berth.sock ]; then \
		nohup $(VENV)/bin/berthd --data-root $(DEMO_ROOT) --exec-root $(DEMO_EXEC) >/var/log/berthd.log 2>&1 & \
		for i in $$(seq 100); do [ -S $(DEMO_EXEC)/berth.sock ] && break; sleep 0.1; done; fi
	$(VENV)/bin/berth image bootstrap busybox
	$(VENV)/bin/berth run --rm busybox echo "hello world"

stop-demo:
	@# berthd removes its pid file when it stops; one left by a killed berthd may name a
	@# reused pid, so only a process that is still berthd is signalled
	@if [ -f $(DEMO_EXEC)/berthd.pid ]; then pid=$$(cat $(DEMO_EXEC)/berthd.pid); \
	if grep -qa berthd /proc/$$pid/cmdline 2>/dev/null; then kill $$pid; \
	else rm -f $(DEMO_EXEC)/berthd.pid; fi; fi

check: install-test
	scripts/check

test: install-test
	scripts/check
	scripts/test

bench: install-test
	$(PY) bench/run_bench.py
