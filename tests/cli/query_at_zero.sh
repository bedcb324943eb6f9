#!/usr/bin/env bash
# query_at_zero.sh: --at naming version 0 (the empty store) is refused by
# every reader that goes through cli_reader_open, not answered for the head.
. "$AVIARY_SRC/tests/cli/lib/store_lib.bash"
ok() { check "$*" "$@"; }
"$AVIARY" init "$T/s" >/dev/null
"$AVIARY" -C "$T/s" ingest -q "$AVIARY_SRC/tests/data/demo/magpie_pro_sample.jsonl"
for cmd in "query --format count" "stats" "export --format sft --out $T/x.jsonl"; do
    for at in 0 HEAD~1; do
        out=$("$AVIARY" -C "$T/s" $cmd --at $at 2>&1)
        ok test $? -eq 1
        ok grep -q "is version 0" <<< "$out"
    done
done
ok test "$("$AVIARY" -C "$T/s" query --format count --at 1)" = 12
ok test ! -e "$T/x.jsonl"
finish
