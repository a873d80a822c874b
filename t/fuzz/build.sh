#!/bin/sh
# libFuzzer builds of every t/fuzz/fuzz_*.c target, and a run of each.
#
#   t/fuzz/build.sh [SECONDS [NAME...]]  (make fuzz FUZZ_SECONDS=N runs this)
#
# Builds the core library (every layer of mod_activesync/ but httpd/ and admin/) and each target with
# clang-14 -fsanitize=fuzzer,address,undefined into obj-fuzz/, then runs
# each target for SECONDS (default 30; 0 = build only) over a copy of its
# seed corpus t/fuzz/corpus/NAME, so the checked-in corpus is not flooded.
# New crash inputs land in obj-fuzz/artifacts/ as NAME-crash-<sha1> (also
# leak-, timeout-, oom-); the script then exits 1.  Add such inputs to
# t/fuzz/corpus/NAME once fixed: `make check-fuzz` replays them with gcc.
#
# A target's libFuzzer dictionary is t/fuzz/NAME.dict when there is one
# (the WBXML one is written below).
#
# Environment: CLANG (default clang-14), FUZZ_MAX_LEN (65536),
# FUZZ_FLAGS (extra libFuzzer flags, e.g. "-jobs=2 -workers=2").
set -eu

SECONDS_PER_TARGET=${1:-30}
[ $# -gt 0 ] && shift
ONLY="$*" # target names (mime meeting ...): only these; none given: all
CLANG=${CLANG:-clang-14}
MAX_LEN=${FUZZ_MAX_LEN:-65536}
FUZZ_FLAGS=${FUZZ_FLAGS:-}

cd "$(dirname "$0")/../.."
O=obj-fuzz
mkdir -p "$O/lib" "$O/corpus" "$O/artifacts"

command -v "$CLANG" >/dev/null 2>&1 || { echo "build.sh: $CLANG not found" >&2; exit 2; }

# Compiler and linker flags of the normal build (build/config.mk via make).
mkvar() {
    printf 'print-%%:\n\t@echo $($*)\n' |
        make -s --no-print-directory -f Makefile -f - "print-$1"
}
CPPFLAGS=$(mkvar CPPFLAGS)
LIBS=$(mkvar LIBS)

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-g -O1 -std=gnu11 -Wall -Wno-unused-parameter $SAN"

# The core library, with coverage instrumentation but no main().
objs=""
# shellcheck disable=SC2046
for src in $(mkvar CORE_SRC); do
    obj="$O/lib/$(echo "${src#mod_activesync/}" | tr / _ | sed 's/\.c$//').o"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find include mod_activesync -name '*.h' -newer "$obj" 2>/dev/null)" ]; then
        echo "  CC      $obj"
        # shellcheck disable=SC2086
        "$CLANG" $CPPFLAGS $(mkvar PRIV_INC) $CFLAGS -fsanitize=fuzzer-no-link -c -o "$obj" "$src"
    fi
    objs="$objs $obj"
done
rm -f "$O/libactivesync.a"
# shellcheck disable=SC2086
ar rcs "$O/libactivesync.a" $objs

# Dictionary for the WBXML target: global tokens and frequent tag bytes.
cat >"$O/wbxml.dict" <<'EOF'
header="\x03\x01\x6a\x00"
header_strtbl="\x03\x00\x00\x6a"
switch_page="\x00"
switch_airsyncbase="\x00\x11"
switch_folderhierarchy="\x00\x07"
switch_find="\x00\x19"
end="\x01"
str_i="\x03"
str_i_empty="\x03\x00"
str_t="\x83"
opaque="\xc3"
opaque_len="\xc3\x81\x00"
entity="\x02"
literal="\x04"
literal_a="\x84"
ext_i_0="\x40"
pi="\x43"
ext_t_0="\x80"
ext_0="\xc0"
sync="\x45"
collections="\x5c"
collection="\x4f"
synckey="\x4b"
applicationdata="\x5d"
moreavailable="\x14"
mb_long="\x8f\xff\xff\xff\x7f"
utf8_2="\xc3\xa9"
utf8_bad="\xed\xa0\x80"
EOF

status=0
for src in t/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    short=${name#fuzz_}
    if [ -n "$ONLY" ] && ! echo " $ONLY " | grep -q " $short "; then
        continue
    fi
    bin="$O/$name"
    echo "  LD      $bin"
    # shellcheck disable=SC2086
    "$CLANG" $CPPFLAGS $CFLAGS -fsanitize=fuzzer -It/fuzz -o "$bin" "$src" \
        "$O/libactivesync.a" $LIBS
    [ "$SECONDS_PER_TARGET" -gt 0 ] || continue

    work="$O/corpus/$short"
    mkdir -p "$work"
    if [ -d "t/fuzz/corpus/$short" ]; then
        cp -p "t/fuzz/corpus/$short"/* "$work"/ 2>/dev/null || true
    fi
    dict=""
    [ -f "$O/$short.dict" ] && dict="-dict=$O/$short.dict"
    [ -f "t/fuzz/$short.dict" ] && dict="-dict=t/fuzz/$short.dict"
    echo "  FUZZ    $name for ${SECONDS_PER_TARGET}s"
    before=$(ls "$O/artifacts" | grep -c "^$short-" || true)
    # shellcheck disable=SC2086
    if ! "$bin" -max_total_time="$SECONDS_PER_TARGET" -max_len="$MAX_LEN" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$O/artifacts/$short-" \
        $dict $FUZZ_FLAGS "$work" >"$O/$name.log" 2>&1; then
        echo "  FAIL    $name: see $O/$name.log" >&2
        status=1
    fi
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE' "$O/$name.log" |
        sed "s/^/          /" || true
    after=$(ls "$O/artifacts" | grep -c "^$short-" || true)
    if [ "$after" -gt "$before" ]; then
        echo "  CRASH   $name: new inputs in $O/artifacts/:" >&2
        ls "$O/artifacts" | grep "^$short-" | sed "s/^/          /" >&2
        status=1
    fi
done
exit $status
