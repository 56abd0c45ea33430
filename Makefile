# SPDX-License-Identifier: MIT
# wsgitrace: .bpf.c -> .bpf.o -> .skel.h -> daemon, plus unit tests, fuzzers,
# integration tests and benchmarks, installation and the Debian package.
# `make run`, `make test`, `make bench` and `make deb` install what each needs
# first (scripts/deps.sh MODE).

OUT := build
CLANG ?= clang
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

CC ?= cc
CFLAGS ?= -g -O2
WARN := -Wall -Wextra -Werror -Wno-unused-parameter
DEP := -MMD -MP
COMMON := -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -I$(OUT) -I$(OUT)/pb \
	-DWT_VERSION='"$(VERSION)"' -DWT_GIT_REV='"$(GIT_REV)"'
# What the pure modules (user/ but the kernel ones) need, tests and fuzzers included.
PURE_LIBS := -lmicrohttpd -lyaml -lcrypt -lgnutls -lprotobuf-c -lm
LIBS := -lbpf -lelf -lz $(PURE_LIBS)

# Modules that need the kernel (BPF skeleton, /proc); everything else in
# user/ is pure and linked into the unit tests and fuzzers too.
KERNEL_SRCS := user/main.c user/capture.c user/discover.c user/naming.c user/preflight.c user/listeners.c user/serverstate.c \
	user/tlsattach.c
LIB_SRCS := $(filter-out $(KERNEL_SRCS),$(wildcard user/*.c))
# The protobuf exposition's message types, Prometheus' client_model, as
# Debian ships them (golang-github-prometheus-client-model-dev), compiled
# with protoc-c at build time; pbobj/ holds their objects for every build.
PROTO_DIR ?= /usr/share/gocode/src/github.com/prometheus/client_model/io/prometheus/client
PB_C := $(OUT)/pb/metrics.pb-c.c $(OUT)/pb/google/protobuf/timestamp.pb-c.c
PB_H := $(PB_C:.c=.h)
PB_OBJS := $(OUT)/pbobj/metrics.pb-c.o $(OUT)/pbobj/timestamp.pb-c.o
LIB_OBJS := $(patsubst user/%.c,$(OUT)/obj/%.o,$(LIB_SRCS)) $(PB_OBJS)
KERNEL_OBJS := $(patsubst user/%.c,$(OUT)/obj/%.o,$(filter $(wildcard user/*.c),$(KERNEL_SRCS)))

# Unit tests and fuzzers are built with sanitizers, in their own folder.
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_OBJS := $(patsubst user/%.c,$(OUT)/san/%.o,$(LIB_SRCS)) $(PB_OBJS)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(OUT)/fuzz/%,$(FUZZ_SRCS))
FZ_OBJS := $(patsubst user/%.c,$(OUT)/fz/%.o,$(LIB_SRCS)) $(PB_OBJS)
FUZZ_SECONDS ?= 20

.DELETE_ON_ERROR:
.PHONY: all deps run test unit fuzz integration bench install uninstall deb clean

all: $(OUT)/wsgitrace

# What building and running need; `make test` and `make bench` add their own.
deps:
	@bash scripts/deps.sh run

$(OUT) $(OUT)/obj $(OUT)/san $(OUT)/fz $(OUT)/tests $(OUT)/fuzz:
	@mkdir -p $@

# Kernel side: CO-RE object against the committed vmlinux.h.
$(OUT)/wsgitrace.bpf.o: bpf/wsgitrace.bpf.c | $(OUT)
	$(CLANG) -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) $(BPF_CFLAGS) -Iinclude -Ivmlinux \
		-Wall -Werror -MMD -MP -c $< -o $@

$(OUT)/wsgitrace.skel.h: $(OUT)/wsgitrace.bpf.o
	$(BPFTOOL) gen skeleton $< name wsgitrace_bpf > $@

$(PB_C) $(PB_H) &: $(PROTO_DIR)/metrics.proto
	@mkdir -p $(OUT)/pb
	protoc-c -I$(PROTO_DIR) -I/usr/include --c_out=$(OUT)/pb $(PROTO_DIR)/metrics.proto google/protobuf/timestamp.proto

# Generated code: built without the house warnings, and without sanitizers (it is not ours to fuzz).
$(OUT)/pbobj/metrics.pb-c.o: $(OUT)/pb/metrics.pb-c.c $(PB_H)
	@mkdir -p $(OUT)/pbobj
	$(CC) $(CFLAGS) -I$(OUT)/pb -c $< -o $@
$(OUT)/pbobj/timestamp.pb-c.o: $(OUT)/pb/google/protobuf/timestamp.pb-c.c $(PB_H)
	@mkdir -p $(OUT)/pbobj
	$(CC) $(CFLAGS) -I$(OUT)/pb -c $< -o $@

# Whatever includes the generated headers needs them first.
$(patsubst user/%.c,$(OUT)/obj/%.o,$(LIB_SRCS) $(KERNEL_SRCS)) $(patsubst user/%.c,$(OUT)/san/%.o,$(LIB_SRCS)) \
	$(patsubst user/%.c,$(OUT)/fz/%.o,$(LIB_SRCS)): | $(PB_H)

$(OUT)/obj/%.o: user/%.c | $(OUT)/obj
	$(CC) $(CFLAGS) $(WARN) $(COMMON) $(DEP) -c $< -o $@

# The revision is compiled in (--version, build_info): rebuild what embeds it when HEAD moves.
$(OUT)/revision: FORCE | $(OUT)
	@echo '$(GIT_REV)' | cmp -s - $@ || echo '$(GIT_REV)' > $@
$(OUT)/obj/main.o: $(OUT)/revision
FORCE:

# capture.c includes the skeleton.
$(OUT)/obj/capture.o: $(OUT)/wsgitrace.skel.h

$(OUT)/wsgitrace: $(LIB_OBJS) $(KERNEL_OBJS)
	$(CC) $(CFLAGS) $^ $(LIBS) -o $@

$(OUT)/san/%.o: user/%.c | $(OUT)/san
	clang -g -O1 $(SAN) $(WARN) $(COMMON) $(DEP) -c $< -o $@

$(OUT)/fz/%.o: user/%.c | $(OUT)/fz
	clang -g -O1 -fsanitize=fuzzer-no-link,address,undefined $(COMMON) $(DEP) -c $< -o $@

$(OUT)/tests/%: tests/unit/%.c $(SAN_OBJS) | $(OUT)/tests
	clang -g -O1 $(SAN) $(WARN) $(COMMON) -DWT_PROTO_DIR='"$(PROTO_DIR)"' $(DEP) $< $(SAN_OBJS) -lcmocka $(PURE_LIBS) -o $@

$(OUT)/fuzz/%: tests/fuzz/%.c $(FZ_OBJS) | $(OUT)/fuzz
	clang -g -O1 -fsanitize=fuzzer,address,undefined $(COMMON) $(DEP) $< $(FZ_OBJS) $(PURE_LIBS) -o $@

unit: $(UNIT_BINS)
	@bash scripts/run-unit.sh $(UNIT_BINS)

fuzz: $(FUZZ_BINS)
	@bash scripts/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

# Real servers, probes and ports: one run at a time on a machine, whichever checkout it is from.
TEST_LOCK := flock /run/lock/wsgitrace-tests.lock

integration: $(OUT)/wsgitrace
	@$(TEST_LOCK) /usr/bin/python3 tests/integration/run.py $(TESTS)

run: deps $(OUT)/wsgitrace
	$(OUT)/wsgitrace $(ARGS)

test:
	@bash scripts/deps.sh test
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory deploy-check
	@$(MAKE) --no-print-directory fuzz
	@$(MAKE) --no-print-directory integration

# The alerting rules and the Grafana dashboard under deploy/: promtool, then a real
# Prometheus over a real wsgitrace (root, like `make integration`, and under its lock).
.PHONY: deploy-check
deploy-check: $(OUT)/wsgitrace
	@cd tests/deploy && $(TEST_LOCK) /usr/bin/python3 -W ignore::ResourceWarning -m unittest -v test_deploy test_live

bench: $(OUT)/wsgitrace
	@bash scripts/deps.sh bench
	@$(TEST_LOCK) /usr/bin/python3 -m bench $(BENCH_ARGS)

# The container image localhost/wsgitrace:VERSION (podman, FROM scratch): see deploy/.
.PHONY: image
image: $(OUT)/wsgitrace
	@bash scripts/image.sh $(OUT)/wsgitrace

# Installation where every C project's users expect it: PREFIX (the package uses /usr)
# and DESTDIR for staging. /etc/default/wsgitrace is kept when it exists.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	-e 's|@DATADIR@|$(DATADIR)|g' -e 's|@VERSION@|$(VERSION)|g'

install: $(OUT)/wsgitrace
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(DATADIR)/wsgitrace $(DESTDIR)$(SYSCONFDIR)/default
	install -m 0755 $(OUT)/wsgitrace $(DESTDIR)$(SBINDIR)/wsgitrace
	$(SUBST) doc/wsgitrace.8 > $(DESTDIR)$(MANDIR)/man8/wsgitrace.8
	$(SUBST) deploy/systemd/wsgitrace.service.in > $(DESTDIR)$(UNITDIR)/wsgitrace.service
	chmod 0644 $(DESTDIR)$(MANDIR)/man8/wsgitrace.8 $(DESTDIR)$(UNITDIR)/wsgitrace.service
	install -m 0644 deploy/prometheus/wsgitrace-alerts.yaml deploy/grafana/wsgitrace-dashboard.json \
		$(DESTDIR)$(DATADIR)/wsgitrace/
	test -e $(DESTDIR)$(SYSCONFDIR)/default/wsgitrace || \
		install -m 0644 deploy/systemd/wsgitrace.default $(DESTDIR)$(SYSCONFDIR)/default/wsgitrace

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/wsgitrace $(DESTDIR)$(MANDIR)/man8/wsgitrace.8 \
		$(DESTDIR)$(UNITDIR)/wsgitrace.service $(DESTDIR)$(DATADIR)/wsgitrace/wsgitrace-alerts.yaml \
		$(DESTDIR)$(DATADIR)/wsgitrace/wsgitrace-dashboard.json
	-rmdir $(DESTDIR)$(DATADIR)/wsgitrace

# build/wsgitrace_VERSION_ARCH.deb (dpkg-deb): the files of `make install PREFIX=/usr`.
deb: $(OUT)/wsgitrace
	@bash scripts/deps.sh run deb
	@bash scripts/deb.sh $(OUT)

clean:
	rm -rf $(OUT)

-include $(wildcard $(OUT)/*.d $(OUT)/obj/*.d $(OUT)/san/*.d $(OUT)/fz/*.d $(OUT)/tests/*.d $(OUT)/fuzz/*.d)
