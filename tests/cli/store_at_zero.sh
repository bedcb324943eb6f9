#!/usr/bin/env bash
# store_at_zero.sh: --at naming version 0 (the empty store before the first
# commit: "0", or HEAD~N back to the start) is refused by the read commands
# (and by tag) instead of silently answering for the head, and `diff 0 V`
# lists everything up to V.
. "$(dirname "$0")/lib/store_lib.bash"
S=$T/s
"$A" init "$S" >/dev/null
"$A" -C "$S" add "$SRC/tests/data/native_sample.jsonl" 2>/dev/null
Z="aviary: 'HEAD~5' is version 0, the empty store before the first commit (versions start at 1)"
run "$A" -C "$S" show --at HEAD~5 40166b58
golden "show --at HEAD~5" 1 "" "$Z"
run "$A" -C "$S" log --at HEAD~5
golden "log --at HEAD~5" 1 "" "$Z"
run "$A" -C "$S" dump --at HEAD~5
golden "dump --at HEAD~5" 1 "" "$Z"
run "$A" -C "$S" audit --at HEAD~5
golden "audit --at HEAD~5" 1 "" "$Z"
run "$A" -C "$S" trace --at HEAD~5 40166b58
golden "trace --at HEAD~5" 1 "" "$Z"
run "$A" -C "$S" runs --at HEAD~5
golden "runs --at HEAD~5" 1 "" "$Z"
run "$A" -C "$S" show --at 0 40166b58
golden "show --at 0" 1 "" "aviary: '0' is version 0, the empty store before the first commit (versions start at 1)"
run "$A" -C "$S" tag none HEAD~5
golden "tag none HEAD~5" 1 "" "$Z"
check "... names nothing" test -z "$("$A" -C "$S" tag)"
run "$A" -C "$S" show --at 1 40166b58
check "show --at 1 still works" test "$rc" = 0

run "$A" -C "$S" diff 0 1
golden "diff 0 1: what version 1 added" 0 "version 0 -> 1
added
  prompt     2
  response   1
  tag        1
  source     1
  model      1" ""
run "$A" -C "$S" diff 1 0 --format json
golden "diff 1 0: everything removed" 0 '{"from":1,"to":0,"added":{},"retracted":{},"restored":{},"removed":{"prompt":2,"response":1,"tag":1,"source":1,"model":1}}' ""
"$A" init "$T/e" >/dev/null
run "$A" -C "$T/e" diff 0
golden "diff in an empty store" 1 "" "aviary: the store has no versions yet"
finish
