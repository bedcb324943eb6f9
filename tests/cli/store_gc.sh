#!/usr/bin/env bash
# store_gc.sh: `aviary gc` on the shipped sample dump and on a store another
# process has open: what it prints, that the store dumps the same bytes and
# keeps its history after it, and that it refuses to share the store.
. "$(dirname "$0")/lib/store_lib.bash"
S=$T/s
SAMPLE=$SRC/tests/data/native_sample.jsonl

run "$A" gc --help
check "help: exit 0" test "$rc" = 0
check "help says what it does" has "$out" "Repacks the store"
"$A" init "$S" >/dev/null
"$A" -C "$S" add -q "$SAMPLE"
"$A" -C "$S" log >"$T/log1"
run "$A" -C "$S" gc --level 0
check "a level out of range: exit 2" test "$rc" = 2
check "... saying which" test "$(printf '%s\n' "$err" | head -2)" = "aviary: --level must be 1 to 22, not '0'
usage: aviary gc [--level <1-22>] [-q | --progress]"
run "$A" -C "$S" gc --levle 3
check "an unknown option: exit 2" test "$rc" = 2
run "$A" -C "$S" gc
check "gc: exit 0" test "$rc" = 0
check "gc: says what it did" has "$err" "MB on disk (texts repacked "
check "gc: a small store trains no dictionary" has "$err" "0 dictionaries trained)"
check "gc: nothing on stdout" test -z "$out"
"$A" -C "$S" dump >"$T/d.jsonl"
check "dump after gc: the same bytes" cmp -s "$SAMPLE" "$T/d.jsonl"
"$A" -C "$S" log >"$T/log2"
check "log after gc: the same" cmp -s "$T/log1" "$T/log2"
check "no version made" test "$("$A" -C "$S" log | grep -c '^version')" = 5
run "$A" -C "$S" gc -q
golden "gc again, quietly" 0 "" ""
"$A" -C "$S" dump >"$T/d2.jsonl"
check "... still the same bytes" cmp -s "$SAMPLE" "$T/d2.jsonl"

# another process has the store open: an add waiting on a pipe
mkfifo "$T/fifo"
"$A" -C "$S" add "$T/fifo" >/dev/null 2>&1 &
bg=$!
exec 3>"$T/fifo"
sleep 0.3
run "$A" -C "$S" gc
check "while another process has it open: exit 1" test "$rc" = 1
check "... saying why" has "$err" "another process has the store"
exec 3>&-
wait $bg
"$A" -C "$S" dump >"$T/d3.jsonl"
check "... and the store is as it was" cmp -s "$SAMPLE" "$T/d3.jsonl"
finish
