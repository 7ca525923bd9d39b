# spa-auth build. `make run` and `make test` are the two entry points; both
# install what is missing first (as root) and say what they are doing.
SHELL := /bin/bash
.DEFAULT_GOAL := all
BUILD := build
CXX := g++
# SANITIZE=1: core, the module, authd and the tests built with ASan + UBSan
# in build/san/ (docs/testing.md, "Sanitizers"); any report fails the run.
ifeq ($(SANITIZE),1)
BUILD := build/san
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# GCC 12 warns falsely under ASan (maybe-uninitialized in libstdc++'s
# regex); the ordinary build keeps that warning as an error.
CXX := g++ $(SAN_FLAGS) -Wno-maybe-uninitialized
SAN_REPORTS := $(CURDIR)/$(BUILD)/reports
export ASAN_OPTIONS := log_path=$(SAN_REPORTS)/asan:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS := log_path=$(SAN_REPORTS)/ubsan:print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS := suppressions=$(CURDIR)/tests/sanitize/lsan.supp:print_suppressions=0
# nginx itself is Debian's: the module's runtimes are preloaded into it.
export SPA_SANITIZER_PRELOAD := $(shell g++ -print-file-name=libasan.so)
export SPA_NGINX := env LD_PRELOAD=$(SPA_SANITIZER_PRELOAD):$(shell g++ -print-file-name=libubsan.so) /usr/sbin/nginx
NGX_EXTRA_LIBS := -lasan -lubsan
endif
# Debian's hardening (what `DEB_BUILD_MAINT_OPTIONS=hardening=+all
# dpkg-buildflags` gives on Debian 12), for `make` and the packages alike:
# `make deb` packages these very objects. ASan replaces fortified calls.
ifneq ($(SANITIZE),1)
HARDEN_CXXFLAGS := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -Wformat -Werror=format-security
HARDEN_LDFLAGS := -Wl,-z,relro -Wl,-z,now
endif
CXXFLAGS := -std=c++20 -O2 -g -fPIC -fvisibility=hidden -Wall -Wextra -Werror -I. -isystem /usr/include/postgresql $(HARDEN_CXXFLAGS)
# The version is debian/changelog's (one place to bump it): spa-authd
# --version, its start line, the module's line in nginx's error log.
VERSION := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
CHECK_FLAGS = $(shell pkg-config --cflags --libs check 2>/dev/null)

NGX_SRC := /usr/share/nginx/src
NGX_TREE := $(BUILD)/nginx-src
NGX_OBJS := $(BUILD)/nginx
# nginx's own include list (ALL_INCS), read from its generated Makefile when
# the glue is compiled; -isystem keeps our warning flags off nginx's headers.
NGX_INCS = $(shell sed -n '/^ALL_INCS/,/^$$/p' $(NGX_OBJS)/Makefile | grep -o '\-I [^ ]*' | \
             sed 's|^-I \(/\)|-isystem \1|; s|^-I \([^/]\)|-isystem $(NGX_TREE)/\1|')

CORE_SRCS := $(wildcard core/*.cc)
CORE_OBJS := $(CORE_SRCS:%.cc=$(BUILD)/%.o)
GLUE_SRCS := $(wildcard ngx_http_spa_auth_module/*.cpp)
GLUE_OBJS := $(GLUE_SRCS:%.cpp=$(BUILD)/%.o)
AUTHD_SRCS := $(filter-out authd/main.cc,$(wildcard authd/*.cc authd/records/*.cc))
AUTHD_OBJS := $(AUTHD_SRCS:%.cc=$(BUILD)/%.o)
AUTHD_LIBS := -ltomlplusplus -lpq -llmdb -largon2 -loath -lqrencode -lcurl -lcrypto -lpthread
UNIT_SRCS := $(wildcard tests/unit/*.cc)
UNIT_OBJS := $(UNIT_SRCS:%.cc=$(BUILD)/%.o)

MODULE := $(BUILD)/ngx_http_spa_auth_module.so
TOOLS := $(BUILD)/spa-auth-mint $(BUILD)/spa-demo-echo
AUTHD := $(BUILD)/spa-authd

# The demo SPA (demo/spa): TypeScript type-checked by tsc, bundled by Vite
# into $(BUILD)/spa/, which nginx serves. Both tools come from the npm
# registry, pinned by demo/spa/package-lock.json.
SPA_DIR := demo/spa
SPA := $(BUILD)/spa/index.html
SPA_SRCS := $(shell find $(SPA_DIR)/src $(SPA_DIR)/public $(SPA_DIR)/api-docs -type f 2>/dev/null) \
            $(addprefix $(SPA_DIR)/,index.html vite.config.js tsconfig.json package-lock.json) docs/openapi.yaml
# /api/docs/: docs/openapi.yaml rendered by swagger-ui-dist (npm), copied
# next to the app after Vite's build (which empties the directory).
API_DOCS_FILES := $(SPA_DIR)/api-docs/index.html $(SPA_DIR)/api-docs/init.js docs/openapi.yaml \
                  $(addprefix $(SPA_DIR)/node_modules/swagger-ui-dist/,swagger-ui-bundle.js swagger-ui.css)

.PHONY: all deps test unit nginx-t e2e run stop bench clean install

all: $(MODULE) $(AUTHD) $(TOOLS) $(SPA)
	@echo "==> built $(MODULE), $(AUTHD), $(TOOLS) and the demo SPA ($(BUILD)/spa/)"

deps:
	@echo "==> checking build and test dependencies (scripts/deps.sh)"
	@scripts/deps.sh

# Objects depend on the compiler and its flags too (a change of either
# rebuilds them, so `make deb` never packages objects of other flags).
FLAGS_STAMP := $(BUILD)/.cxxflags
$(shell mkdir -p $(BUILD) && { [ "$$(cat $(FLAGS_STAMP) 2>/dev/null)" = '$(CXX) $(CXXFLAGS)' ] || \
    echo '$(CXX) $(CXXFLAGS)' > $(FLAGS_STAMP); })

$(BUILD)/%.o: %.cc $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libspa_core.a: $(CORE_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libspa_authd.a: $(AUTHD_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/core/version.o: CXXFLAGS += -DSPA_VERSION='"$(VERSION)"'
$(BUILD)/core/version.o: debian/changelog

$(AUTHD): $(BUILD)/authd/main.o $(BUILD)/libspa_authd.a $(BUILD)/libspa_core.a
	$(CXX) $(HARDEN_LDFLAGS) -o $@ $^ $(AUTHD_LIBS)

# nginx's configure runs in a private copy of Debian's nginx-dev tree so
# the build writes nothing outside build/ and needs no root.
$(NGX_OBJS)/Makefile: config $(NGX_SRC)/conf_flags
	@echo "==> configuring against Debian's nginx-dev ($(NGX_SRC))"
	rm -rf $(NGX_TREE) $(NGX_OBJS) && mkdir -p $(BUILD) && cp -r $(NGX_SRC) $(NGX_TREE)
	cd $(NGX_TREE) && . ./conf_flags && SPA_AUTH_MODULE_LIB=$(CURDIR)/$(BUILD)/libspa_auth_module.a \
	    SPA_AUTH_MODULE_EXTRA_LIBS="$(NGX_EXTRA_LIBS)" ./configure "$${NGX_CONF_FLAGS[@]}" \
	    --with-cc-opt="-g -O2 -fPIC -fstack-protector-strong -Wformat -Werror=format-security -D_FORTIFY_SOURCE=2" \
	    --with-ld-opt="-Wl,-z,relro -Wl,-z,now -fPIC" \
	    --add-dynamic-module=$(CURDIR) --builddir=$(CURDIR)/$(NGX_OBJS) > $(CURDIR)/$(BUILD)/nginx-configure.log

$(BUILD)/ngx_http_spa_auth_module/%.o: ngx_http_spa_auth_module/%.cpp $(NGX_OBJS)/Makefile $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $(NGX_INCS) -MMD -MP -c $< -o $@

$(BUILD)/libspa_auth_module.a: $(GLUE_OBJS) $(CORE_OBJS)
	rm -f $@ && ar rcs $@ $^

$(MODULE): $(BUILD)/libspa_auth_module.a $(NGX_OBJS)/Makefile
	rm -f $(NGX_OBJS)/ngx_http_spa_auth_module.so
	$(MAKE) -s -f $(CURDIR)/$(NGX_OBJS)/Makefile -C $(NGX_TREE) modules > $(BUILD)/nginx-make.log
	cp $(NGX_OBJS)/ngx_http_spa_auth_module.so $@

$(SPA_DIR)/node_modules/.package-lock.json: $(SPA_DIR)/package-lock.json
	@echo "==> npm ci in $(SPA_DIR) (TypeScript and Vite, as package-lock.json pins them)"
	npm ci --prefix $(SPA_DIR) --no-audit --no-fund --loglevel=error
	@touch $@

$(SPA): $(SPA_SRCS) $(SPA_DIR)/node_modules/.package-lock.json
	@echo "==> demo SPA: tsc --noEmit, vite build into $(BUILD)/spa/"
	cd $(SPA_DIR) && node_modules/.bin/tsc --noEmit && node_modules/.bin/vite build --logLevel warn --outDir $(CURDIR)/$(BUILD)/spa
	mkdir -p $(BUILD)/spa/api/docs && cp $(API_DOCS_FILES) $(BUILD)/spa/api/docs/

$(BUILD)/spa-auth-mint: $(BUILD)/tools/spa-auth-mint.o $(BUILD)/libspa_core.a
	$(CXX) -o $@ $^ -lcrypto

$(BUILD)/spa-demo-echo: $(BUILD)/tools/spa-demo-echo.o $(BUILD)/libspa_core.a
	$(CXX) -o $@ $^ -lcpp-httplib -lpthread

$(BUILD)/spa-verify-bench: $(BUILD)/bench/verify-bench.o $(BUILD)/libspa_core.a
	$(CXX) -o $@ $^ -lcrypto

$(BUILD)/unit-tests: $(UNIT_OBJS) $(BUILD)/libspa_authd.a $(BUILD)/libspa_core.a
	$(CXX) -o $@ $^ $(AUTHD_LIBS) $(CHECK_FLAGS)

# Made once, to write tests/unit/fixtures/store-v1.* (see its source); not
# part of `make test`.
$(BUILD)/make-store-v1: $(BUILD)/tests/unit/fixtures/make_store_v1.o $(BUILD)/libspa_authd.a $(BUILD)/libspa_core.a
	$(CXX) -o $@ $^ $(AUTHD_LIBS) $(CHECK_FLAGS)

test: deps
ifeq ($(SANITIZE),1)
	@echo "==> sanitized build in $(BUILD)/ (ASan + UBSan; reports go to $(SAN_REPORTS)/)"
	@rm -rf $(SAN_REPORTS) && mkdir -p $(SAN_REPORTS)
	@$(MAKE) --no-print-directory -j$(shell nproc) all $(BUILD)/unit-tests
	@$(MAKE) --no-print-directory unit nginx-t e2e; rc=$$?; scripts/sanitizer-reports.sh $(SAN_REPORTS) && exit $$rc
else
	@$(MAKE) --no-print-directory -j$(shell nproc) all $(BUILD)/unit-tests $(FUZZ_BINS) $(BENCH_BINS)
	@$(MAKE) --no-print-directory unit nginx-t e2e fuzz-check test-deb
endif
	@echo "==> all suites passed"

unit: $(BUILD)/unit-tests
	@echo "==> unit tests (Check, tests/unit/)"
	@cd tests/unit && CK_FORK=yes ../../$(BUILD)/unit-tests
	@echo "==> unit tests on PostgreSQL (a private server: tests/unit/with-postgres, on-postgresql)"
	@cd tests/unit && ./with-postgres ./on-postgresql ../../$(BUILD)/unit-tests

nginx-t: all
	@echo "==> nginx tests (prove, tests/nginx-t/)"
	@SPA_BUILD=$(CURDIR)/$(BUILD) prove -j2 -I tests/nginx-t/lib tests/nginx-t/

# The browser journey through the demo SPA (tests/e2e/journey.t): Debian's
# chromium driven by playwright-core; screenshots in $(BUILD)/e2e/.
e2e: all
	@echo "==> browser tests (chromium, playwright-core; tests/e2e/, screenshots in $(BUILD)/e2e/)"
	@SPA_BUILD=$(CURDIR)/$(BUILD) prove -I tests/nginx-t/lib tests/e2e/

# PORT=8443 PROFILE=development|production, DEMO_PORT, OIDC_PORT, WS_PORT,
# SMTP_PORT, SPA_STATE=.local: see scripts/run.sh.
run: deps
	@$(MAKE) --no-print-directory -j$(shell nproc) all
	@scripts/run.sh

stop:
	@scripts/stop.sh

.PHONY: reset
reset:
	@scripts/reset.sh

$(BUILD)/spa-authd-bench: $(BUILD)/bench/authd-bench.o
	$(CXX) -o $@ $^ -lcpp-httplib -lpthread

$(BUILD)/spa-authd-load-bench: $(BUILD)/bench/authd-load.o
	$(CXX) -o $@ $^ -lcpp-httplib -lpthread

$(BUILD)/spa-store-bench: $(BUILD)/bench/store-bench.o $(BUILD)/libspa_authd.a $(BUILD)/libspa_core.a
	$(CXX) -o $@ $^ $(AUTHD_LIBS)

# One run, one table (bench/all.sh, docs/BENCHMARKS.md), then its chart.
# bench/run.sh, authd.sh, authd-load.sh, store.sh and websocket.sh stay
# runnable by name (`make bench-tools` builds what they need).
BENCH_BINS := $(BUILD)/spa-verify-bench $(BUILD)/spa-authd-bench $(BUILD)/spa-authd-load-bench $(BUILD)/spa-store-bench
.PHONY: bench-tools
bench-tools: all $(BENCH_BINS)

bench: bench-tools
	@bench/all.sh
	@bench/chart.sh $(BUILD)/bench/results.tsv $(BUILD)/bench/bench.svg

# --- Debian packages (debian/, docs/install.md): libnginx-mod-http-spa-auth
# and spa-authd, their -dbgsym packages, into $(BUILD)/deb/, checked by
# lintian (no error, no warning: each one fixed or overridden with a
# reason in debian/*.lintian-overrides). `make test-deb` installs them into
# a fresh Debian 12 root (mmdebstrap) as an operator would (tests/deb/).
DEB_DIR := $(BUILD)/deb
DEB_CHANGES := $(DEB_DIR)/spa-auth_$(VERSION)_$(shell dpkg --print-architecture).changes
.PHONY: deb test-deb
deb: deps
	@$(MAKE) --no-print-directory -j$(shell nproc) $(MODULE) $(AUTHD)
	@echo "==> Debian packages $(VERSION) into $(DEB_DIR)/ (dpkg-buildpackage, debian/)"
	@rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)
	@dpkg-buildpackage -b -us -uc --changes-file=$(CURDIR)/$(DEB_CHANGES) \
	    --buildinfo-file=$(CURDIR)/$(DEB_CHANGES:.changes=.buildinfo) \
	    --changes-option=-u$(CURDIR)/$(DEB_DIR) --buildinfo-option=-u$(CURDIR)/$(DEB_DIR) > $(DEB_DIR)/build.log 2>&1 || \
	    { tail -40 $(DEB_DIR)/build.log; exit 1; }
	@echo "==> lintian $(DEB_CHANGES)"
	@lintian --fail-on error,warning --info $(DEB_CHANGES)
	@ls $(DEB_DIR)/*.deb | sed 's/^/    /'

test-deb: deb
	@echo "==> the packages in a fresh Debian 12 root (mmdebstrap; tests/deb/)"
	@tests/deb/test-deb.sh $(DEB_DIR)

# As root on the target machine (after `make`); the packages are the
# Debian way (`make deb`, docs/install.md).
install: all
	install -D -m 0644 $(MODULE) $(DESTDIR)/usr/lib/nginx/modules/ngx_http_spa_auth_module.so
	install -D -m 0755 $(AUTHD) $(DESTDIR)/usr/sbin/spa-authd
	install -D -m 0644 systemd/spa-authd.service $(DESTDIR)/lib/systemd/system/spa-authd.service
	[ -f $(DESTDIR)/etc/spa-authd/authd.toml ] || install -D -m 0640 conf/authd.toml $(DESTDIR)/etc/spa-authd/authd.toml
	[ -f $(DESTDIR)/etc/spa-authd/mfa.key ] || (umask 077 && head -c 32 /dev/urandom > $(DESTDIR)/etc/spa-authd/mfa.key)
	[ -n "$(DESTDIR)" ] || { getent passwd spa-authd >/dev/null || useradd --system --home-dir /var/lib/spa-authd --shell /usr/sbin/nologin spa-authd; \
	  usermod -aG spa-authd www-data; chgrp spa-authd /etc/spa-authd/authd.toml; chown spa-authd /etc/spa-authd/mfa.key; }
	@echo "==> installed; start with: systemctl daemon-reload && systemctl enable --now spa-authd"

# --- fuzzing (docs/testing.md, "Fuzzing"): libFuzzer targets, one per
# tests/fuzz/fuzz_NAME.cc, built with Debian's clang over core/ compiled
# again with ASan + UBSan. `make fuzz` runs each for FUZZ_SECONDS;
# `make fuzz-check` (part of `make test`) a few seconds each on its corpus.
FUZZ_CXX := clang++
FUZZ_SECONDS ?= 60
FUZZ_FLAGS := -std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
              -Wall -Wextra -Werror -I. -isystem /usr/include/postgresql -DSPA_FUZZ_DIR='"$(CURDIR)/tests/fuzz"'
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.cc,%,$(wildcard tests/fuzz/fuzz_*.cc))
FUZZ_BINS := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
FUZZ_CORE_OBJS := $(CORE_SRCS:%.cc=$(BUILD)/fuzz/%.o)

$(BUILD)/fuzz/core/%.o: core/%.cc
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

# The authd objects a target needs beyond core/ (most need none).
FUZZ_AUTHD_oidc := oidc crypto
FUZZ_AUTHD_config := config oidc crypto mail_quota smtp_url pg_handles
FUZZ_AUTHD_authd := $(AUTHD_SRCS:authd/%.cc=%)
FUZZ_AUTHD_OBJS := $(AUTHD_SRCS:authd/%.cc=$(BUILD)/fuzz/authd/%.o)
# Not intermediate files (make would delete them after each link).
.SECONDARY: $(FUZZ_CORE_OBJS) $(FUZZ_AUTHD_OBJS)

$(BUILD)/fuzz/authd/%.o: authd/%.cc
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(foreach t,$(FUZZ_TARGETS),$(eval $(BUILD)/fuzz/fuzz_$(t): $(patsubst %,$(BUILD)/fuzz/authd/%.o,$(FUZZ_AUTHD_$(t)))))
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.cc $(FUZZ_CORE_OBJS)
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer -MMD -MP -o $@ $< $(filter %.o,$^) $(AUTHD_LIBS)

.PHONY: fuzz fuzz-check
fuzz: deps
	@$(MAKE) --no-print-directory -j$(shell nproc) $(FUZZ_BINS)
	@scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-check: $(FUZZ_BINS)
	@scripts/fuzz.sh 3 $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD) debian/.debhelper debian/debhelper-build-stamp debian/files debian/*.substvars \
	    debian/*.debhelper debian/*.debhelper.log debian/libnginx-mod-http-spa-auth debian/spa-authd debian/tmp

-include $(FUZZ_CORE_OBJS:.o=.d) $(FUZZ_BINS:=.d) $(FUZZ_AUTHD_OBJS:.o=.d) $(CORE_OBJS:.o=.d) $(GLUE_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(AUTHD_OBJS:.o=.d) $(BUILD)/authd/main.d \
         $(addprefix $(BUILD)/,tools/spa-auth-mint.d tools/spa-demo-echo.d bench/verify-bench.d bench/authd-bench.d bench/authd-load.d bench/store-bench.d)
