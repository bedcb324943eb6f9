#!/usr/bin/env bash
# store_add_prefix.sh: add onto a store whose history is the first versions
# of the dump replays the rest (read twice: a checking pass, then the real
# one) also when those versions name no model the pass had seen (the
# checking pass's model table is still empty when it is reset).
. "$(dirname "$0")/lib/store_lib.bash"
SAMPLE=$SRC/tests/data/native_sample.jsonl
"$A" init "$T/x" >/dev/null
"$A" -C "$T/x" add "$SAMPLE" 2>/dev/null
"$A" init "$T/z" >/dev/null
"$A" -C "$T/x" dump --at 2 >"$T/x2.jsonl"
"$A" -C "$T/z" add "$T/x2.jsonl" 2>/dev/null
run "$A" -C "$T/z" add "$SAMPLE"
golden "versions 3 to 5 replayed" 0 "" "replayed versions 3 to 5 from '$SAMPLE' (1 records)"
check "the same store in the end" cmp -s "$SAMPLE" <("$A" -C "$T/z" dump)
finish
