# mod_activesync -- build, install, test and benchmark.
#
#   ./configure [--with-apxs=PATH] && make && make install
#   make check        unit tests (TAP), fuzz corpus replay, end-to-end tests
#   make check-asan   the same under AddressSanitizer + UBSan
#   make bench        benchmarks (ratios measured side by side)
#   make demo         start the demo server on 127.0.0.1
#
# Object files go to $(O)/ (obj/ by default, obj-asan/ for the sanitizer build).

ifeq ($(wildcard build/config.mk),)
$(error build/config.mk is missing: run ./configure first)
endif
include build/config.mk

O        ?= obj
SANITIZE ?= 0
PYTEST   ?= /usr/bin/python3 -m pytest
PROVE    ?= prove
V        ?= 0
ifeq ($(V),0)
Q        := @
QCC       = @echo "  CC      $@";
QLD       = @echo "  LD      $@";
else
Q        :=
QCC       =
QLD       =
endif

SAN_FLAGS :=
ifeq ($(SANITIZE),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
# ThreadSanitizer (gcc's libtsan): make check-tsan
ifeq ($(SANITIZE),thread)
SAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
endif

WARN     := -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes -Wvla \
            -Wno-unused-parameter -Werror
CPPFLAGS := -Iinclude $(HTTPD_CPPFLAGS) $(DEP_CFLAGS) $(BDB_CPPFLAGS)
CFLAGS   := -std=gnu11 -g -O2 -fPIC -fvisibility=hidden $(WARN) $(SAN_FLAGS) $(CFLAGS_USER)
LIBS     := $(DEP_LIBS) $(BDB_LDFLAGS) $(BDB_LIBS)
LDFLAGS  := $(SAN_FLAGS) $(LDFLAGS_USER)

# The core library is one static archive per layer, lowest first.  Each
# layer may call only the layers before it: the archives are linked in the
# reverse order (top first) and without --start-group, and each layer is
# link-checked against the layers below it alone (see $(LIB) below).
LAYERS    := base outbound wbxml protocol db store convert accounts sync service commands dispatch
layer_src  = $(sort $(wildcard mod_activesync/$(1)/*.c mod_activesync/$(1)/*/*.c))
LAYER_LIBS := $(foreach l,$(LAYERS),$(O)/lib/libas_$(l).a)
# Link order: the top layer first.
LINK_LIBS  := $(foreach l,$(shell echo $(LAYERS) | tr ' ' '\n' | tac),$(O)/lib/libas_$(l).a)

CORE_SRC  := $(foreach l,$(LAYERS),$(call layer_src,$(l)))
GLUE_SRC  := $(sort $(wildcard mod_activesync/httpd/*.c))
ADMIN_SRC := $(sort $(wildcard mod_activesync/admin/*.c))
UNIT_SRC  := $(sort $(wildcard t/unit/*/test_*.c))
FUZZ_SRC  := $(sort $(wildcard t/fuzz/fuzz_*.c))
TOOL_SRC  := $(sort $(wildcard t/tools/*.c))

CORE_OBJ  := $(CORE_SRC:%.c=$(O)/%.o)
GLUE_OBJ  := $(GLUE_SRC:%.c=$(O)/%.o)
ADMIN_OBJ := $(ADMIN_SRC:%.c=$(O)/%.o)
UNIT_BIN  := $(UNIT_SRC:%.c=$(O)/%)
FUZZ_BIN  := $(FUZZ_SRC:%.c=$(O)/%)
TOOL_BIN  := $(TOOL_SRC:%.c=$(O)/%)

LIB    := $(O)/lib/layers.stamp
MODULE := $(O)/mod_activesync.so
ADMIN  := $(O)/activesync-admin

# Private headers stay beside their sources; the tests reach them by name.
PRIV_INC := -Imod_activesync/commands

.PHONY: all check check-unit check-fuzz check-e2e check-asan check-tsan bench demo demo-stop install \
        format format-check clean fuzz configure-check check-layers check-sizes

all: $(LIB) $(MODULE) $(ADMIN)

HDRS := $(wildcard include/activesync/*.h mod_activesync/*/*.h mod_activesync/*/*/*.h)
$(O)/%.o: %.c $(HDRS) build/config.mk
	@mkdir -p $(dir $@)
	$(QCC)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# The registry binds the command files' handlers (commands/as_cmds.h).
$(filter $(O)/mod_activesync/dispatch/%,$(CORE_OBJ)): CPPFLAGS += $(PRIV_INC)

# The glue alone sees the httpd headers.
$(GLUE_OBJ): CPPFLAGS += -I$(HTTPD_INCLUDEDIR) -DAS_DEFAULT_DATADIR='"$(AS_DATADIR)"'

define layer_rule
$(O)/lib/libas_$(1).a: $$(patsubst %.c,$(O)/%.o,$$(call layer_src,$(1)))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	$$(QLD)ar rcs $$@ $$^
endef
$(foreach l,$(LAYERS),$(eval $(call layer_rule,$(l))))

# The layers are built, and their calls checked: each layer, whole, must
# link against the layers below it alone (--no-undefined), so a call upwards
# fails here even when the final link would find the symbol in an object it
# pulled in for another reason; build/check-layers names the call and also
# refuses a cycle between the files of one layer.
$(LIB): $(LAYER_LIBS) build/check-layers
	$(Q)below=""; for l in $(LAYERS); do \
	    $(CC) -shared $(LDFLAGS) -o $(O)/lib/layer-check.so -Wl,--no-undefined \
	        -Wl,--whole-archive $(O)/lib/libas_$$l.a -Wl,--no-whole-archive $$below $(LIBS) || \
	        { echo "layer $$l calls a layer above it (undefined references above)" >&2; exit 1; }; \
	    below="$(O)/lib/libas_$$l.a $$below"; \
	done; rm -f $(O)/lib/layer-check.so
	$(Q)build/check-layers $(O) $(LAYERS)
	@touch $@

check-layers: $(LIB)

$(MODULE): $(GLUE_OBJ) $(LIB) build/module.map
	$(QLD)$(CC) -shared $(LDFLAGS) -o $@ $(GLUE_OBJ) $(LINK_LIBS) $(LIBS) -Wl,--version-script=build/module.map

$(ADMIN_OBJ): CPPFLAGS += -DAS_DEFAULT_DATADIR='"$(AS_DATADIR)"'

$(ADMIN): $(ADMIN_OBJ) $(LIB)
	$(QLD)$(CC) $(LDFLAGS) -o $@ $(ADMIN_OBJ) $(LINK_LIBS) $(LIBS)

# ---- tests ---------------------------------------------------------------
$(O)/t/unit/%: t/unit/%.c t/unit/check_main.c $(wildcard t/unit/*.h) $(LIB)
	@mkdir -p $(dir $@)
	$(QLD)$(CC) $(CPPFLAGS) $(PRIV_INC) $(CHECK_CFLAGS) $(CFLAGS) -It/unit -DAS_SRCDIR='"$(CURDIR)"' -o $@ \
	    $< t/unit/check_main.c $(LINK_LIBS) $(LIBS) $(CHECK_LIBS) $(LDFLAGS)

# Fuzz targets replayed over their corpus by a plain main() (no clang needed).
$(O)/t/fuzz/fuzz_%: t/fuzz/fuzz_%.c t/fuzz/standalone.c $(LIB)
	@mkdir -p $(dir $@)
	$(QLD)$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< t/fuzz/standalone.c $(LINK_LIBS) $(LIBS) $(LDFLAGS)

# Small programs the Python tests drive (codec CLI and the like).
$(O)/t/tools/%: t/tools/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(QLD)$(CC) $(CPPFLAGS) -It/unit $(CFLAGS) -o $@ $< $(LINK_LIBS) $(LIBS) $(LDFLAGS)

check-unit: $(UNIT_BIN)
	$(PROVE) -f $(UNIT_BIN)

check-fuzz: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do n=$${f##*/fuzz_}; $$f t/fuzz/corpus/$$n; done

# Python tests: configure (t/build), the codec cross-check against libwbxml (t/codec), the admin
# tool (t/admin) and the end-to-end tests through a private httpd (t/e2e).
check-e2e: all $(TOOL_BIN)
	AS_MODULE=$(CURDIR)/$(MODULE) AS_ADMIN=$(CURDIR)/$(ADMIN) AS_TOOLS=$(CURDIR)/$(O)/t/tools \
	    AS_SANITIZE=$(SANITIZE) $(PYTEST) -q t/build t/codec t/admin t/e2e

# Hand-written files under 800 lines, functions under 120 (build/check-sizes).
check-sizes:
	build/check-sizes

check: check-sizes check-unit check-fuzz check-e2e

check-asan:
	$(MAKE) O=obj-asan SANITIZE=1 check

# The unit tests that run threads, under ThreadSanitizer in obj-tsan/: any
# race report fails the test (halt_on_error; the forked test exits non-zero).
# G_SLICE=always-malloc: GLib's slice allocator synchronises in uninstrumented
# code (futexes), so TSan would report GMime's allocations as races; through
# malloc it sees them.  Reports inside libdb, GLib and GMime (synchronised where
# TSan cannot see it): t/unit/tsan.supp.  Timeouts x10: TSan is slow.
# (test_sync's thread, a delivery into a parked Sync Wait, is test_ping_park's
# case too; its 10,000-message paging is too slow under TSan.  test_cap_race
# races processes, not threads: nothing for TSan to see.)
TSAN_UNIT    := sync/test_watch commands/test_ping commands/test_ping_park db/test_db \
                accounts/test_device_limit store/test_maildir sync/test_itemcache \
                sync/test_sync_window_pages
TSAN_OPTIONS ?= halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/t/unit/tsan.supp
check-tsan:
	$(MAKE) O=obj-tsan SANITIZE=thread check-tsan-run

.PHONY: check-tsan-run clean-tsan
check-tsan-run: $(TSAN_UNIT:%=$(O)/t/unit/%)
	G_SLICE=always-malloc CK_TIMEOUT_MULTIPLIER=10 TSAN_OPTIONS="$(TSAN_OPTIONS)" $(PROVE) -f $^

clean: clean-tsan
clean-tsan:
	rm -rf obj-tsan

# libFuzzer builds (clang-14 + libclang-rt-14-dev): make fuzz FUZZ_SECONDS=60 [FUZZ_TARGETS="mime meeting"]
FUZZ_SECONDS ?= 30
fuzz:
	t/fuzz/build.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Benchmarks: ratios measured side by side in one run (see README).
$(O)/t/bench/codec_bench: t/bench/codec_bench.c $(LIB)
	@mkdir -p $(dir $@)
	$(QLD)$(CC) $(CPPFLAGS) -I/usr/include/libwbxml-1.0/wbxml $(CFLAGS) -o $@ $< $(LINK_LIBS) $(LIBS) -lwbxml2 $(LDFLAGS)

bench: all $(O)/t/bench/codec_bench $(TOOL_BIN)
	$(O)/t/bench/codec_bench t/data/wbxml/*.xml
	AS_MODULE=$(CURDIR)/$(MODULE) AS_ADMIN=$(CURDIR)/$(ADMIN) /usr/bin/python3 t/bench/bench_http.py
	AS_MODULE=$(CURDIR)/$(MODULE) AS_ADMIN=$(CURDIR)/$(ADMIN) AS_TOOLS=$(CURDIR)/$(O)/t/tools \
	    /usr/bin/python3 t/bench/bench_mail.py
	AS_MODULE=$(CURDIR)/$(MODULE) AS_ADMIN=$(CURDIR)/$(ADMIN) AS_TOOLS=$(CURDIR)/$(O)/t/tools \
	    /usr/bin/python3 t/bench/bench_contacts.py
	AS_MODULE=$(CURDIR)/$(MODULE) AS_ADMIN=$(CURDIR)/$(ADMIN) AS_TOOLS=$(CURDIR)/$(O)/t/tools \
	    /usr/bin/python3 t/bench/bench_calendar.py

demo: all
	build/demo-server start $(CURDIR)/$(MODULE)

demo-stop:
	build/demo-server stop

# ---- install -------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(HTTPD_LIBEXECDIR)
	$(APXS) -i -S LIBEXECDIR=$(DESTDIR)$(HTTPD_LIBEXECDIR) -n activesync $(MODULE)
	install -d $(DESTDIR)$(HTTPD_SYSCONFDIR)/mods-available $(DESTDIR)$(bindir)
	install -m 644 conf.d/activesync.load $(DESTDIR)$(HTTPD_SYSCONFDIR)/mods-available/activesync.load
	install -m 644 conf.d/activesync.conf $(DESTDIR)$(HTTPD_SYSCONFDIR)/mods-available/activesync.conf
	install -m 755 $(ADMIN) $(DESTDIR)$(bindir)/activesync-admin

# ---- housekeeping --------------------------------------------------------
FORMAT_SRC = $(wildcard include/activesync/*.h mod_activesync/*/*.c mod_activesync/*/*.h mod_activesync/*/*/*.[ch] \
              t/unit/*.c t/unit/*.h t/unit/*/*.c t/fuzz/*.c t/bench/*.c t/tools/*.c)
format:
	clang-format -i $(FORMAT_SRC)

format-check:
	clang-format --dry-run --Werror $(FORMAT_SRC)

configure-check:
	@autoconf -o - configure.ac | cmp -s - configure || { echo "configure is stale: run autoconf"; exit 1; }

clean:
	rm -rf obj obj-asan obj-fuzz t/gen
