#!/usr/bin/env bash
# store_retract.sh: retract with an id given twice (or a full id and its
# prefix) hides the record once in one commit; any unknown id commits
# nothing, even after good ones.
. "$(dirname "$0")/lib/store_lib.bash"
S=$T/s
"$A" init "$S" >/dev/null
"$A" -C "$S" add "$SRC/tests/data/native_sample.jsonl" 2>/dev/null
run "$A" -C "$S" retract 18988c99 18988c998d4d7c4673c9a708f5e060b7 18988c99
golden "the same record three ways" 0 "" "retracted 1 record in version 6"
run "$A" -C "$S" show 18988c998d4d7c4673c9a708f5e060b7
golden "it is hidden" 1 "" "aviary: record '18988c998d4d7c4673c9a708f5e060b7' was retracted in version 6 (see it with --at 5)"
run "$A" -C "$S" retract 40166b58 0000000000
golden "an unknown id after a good one" 1 "" "aviary: no visible record '0000000000'"
check "... commits nothing" test "$("$A" -C "$S" log --format json | wc -l)" = 6
run "$A" -C "$S" show 40166b58
check "... and hides nothing" test "$rc" = 0
finish
