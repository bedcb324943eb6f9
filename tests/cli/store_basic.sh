#!/usr/bin/env bash
# store_basic.sh: golden tests of init, add, dump, log, tag, diff, show and
# retract on the shipped sample dump (tests/data/native_sample.jsonl: five
# versions with a retract, a restore and an empty commit).
. "$(dirname "$0")/lib/store_lib.bash"
S=$T/s
SAMPLE=$SRC/tests/data/native_sample.jsonl

run "$A" init "$S"
golden "init" 0 "initialized an empty aviary store in '$S'" ""
run "$A" init "$S"
golden "init twice" 1 "" "aviary: '$S' already holds an aviary store"
run "$A" -C "$S" log
golden "log of an empty store" 0 "" ""

run "$A" -C "$S" add "$SAMPLE"
golden "add into an empty store replays" 0 "" "replayed versions 1 to 5 from '$SAMPLE' (13 records)"
run "$A" -C "$S" add "$SAMPLE"
golden "add again" 0 "" "the store already holds everything in '$SAMPLE'"

"$A" -C "$S" dump >"$T/d1.jsonl"
check "dump -> add -> dump is byte-identical" cmp -s "$SAMPLE" "$T/d1.jsonl"
run "$A" -C "$S" dump -o "$T/d2.jsonl"
check "dump -o" cmp -s "$SAMPLE" "$T/d2.jsonl"
"$A" -C "$S" add <"$SAMPLE" >/dev/null 2>&1
check "add from stdin" test $? = 0
"$A" init "$T/p" >/dev/null
run "$A" -C "$T/p" add - < <(cat "$SAMPLE")
golden "add from a pipe replays (read twice via a temporary file)" 0 "" "replayed versions 1 to 5 from '<stdin>' (13 records)"
check "... and dumps the same bytes" test "$("$A" -C "$T/p" dump)" = "$(cat "$SAMPLE")"
"$A" init "$T/q" >/dev/null
run "$A" -C "$T/q" add < <(sed 's/so the answer is four/so the answer is five/' "$SAMPLE")
check "a bad line through a pipe: exit 1" test "$rc" = 1
check "a bad line through a pipe: named" has "$err" "aviary: <stdin>:16: corrupted record"
check "a bad line through a pipe: nothing committed" test -z "$("$A" -C "$T/q" log)"

run "$A" -C "$S" log -n 2
golden "log -n 2" 0 "version 5
time     2025-11-24T16:05:00Z
command  aviary test
changes  none

    checkpoint

version 4
time     2025-11-24T16:04:00Z
command  aviary test
changes  +1 tag, 1 restored

    restore and tag
    with a second line" ""
run "$A" -C "$S" log --format json --at 3
check "log --at 3 --format json: 3 lines" test "$(printf '%s\n' "$out" | wc -l)" = 3
check "log --at 3 starts at 3" has "$out" '{"version":3,"time":"2025-11-24T16:03:00Z","message":"retract 2 records","command":"aviary test","added":{},"retracted":2,"restored":0,"linked":0,"tags":[]}'

run "$A" -C "$S" tag v1 2
golden "tag v1 2" 0 "" ""
run "$A" -C "$S" tag v1 3
golden "tag taken" 1 "" "aviary: tag 'v1' already names version 2 (use --force to move it)"
run "$A" -C "$S" tag --force v1 HEAD~2
golden "tag --force moves it" 0 "" ""
run "$A" -C "$S" tag latest
run "$A" -C "$S" tag
golden "tag lists" 0 "latest  5
v1      3" ""
run "$A" -C "$S" tag 42
check "a numeric tag name is a usage error" test "$rc" = 2
run "$A" -C "$S" log -n 1 --at v1
check "log --at a tag" has "$out" "version 3 (tag: v1)"

run "$A" -C "$S" diff 1 HEAD
golden "diff 1 HEAD" 0 "version 1 -> 5
added
  response   1
  rating     2
  preference 1
  tag        1
  model      1
  run        1
retracted
  tag        1" ""
run "$A" -C "$S" diff 2 3 --list
golden "diff 2 3 --list" 0 "version 2 -> 3
- prompt     18988c998d4d7c4673c9a708f5e060b7
- tag        7ee5478aea2b91b232281f88c266de6d
retracted
  prompt     1
  tag        1" ""
run "$A" -C "$S" diff v1 4 --format json
golden "diff json with restore" 0 '{"from":3,"to":4,"added":{"tag":1},"retracted":{},"restored":{"prompt":1}}' ""
run "$A" -C "$S" diff 4 5
golden "diff of an empty commit" 0 "version 4 -> 5
no changes" ""
run "$A" -C "$S" diff 5 2
golden "diff backwards" 0 "version 5 -> 2
restored
  tag        1
removed
  tag        1" ""
run "$A" -C "$S" diff 1 9
golden "diff to a missing version" 1 "" "aviary: no version 9 (the newest is 5)"

# dump --at: the older state, whose replay answers log like the original
"$A" -C "$S" dump --at 2 >"$T/at2.jsonl"
"$A" init "$T/s2" >/dev/null
"$A" -C "$T/s2" add -q "$T/at2.jsonl"
check "dump --at 2 replays 2 versions" test "$("$A" -C "$T/s2" log --format json | wc -l)" = 2
check "log of the replay matches" test "$("$A" -C "$T/s2" log)" = "$("$A" -C "$S" log --at 2)"

run "$A" -C "$S" show 18988c99
check "show a prompt" has "$out" "prompt 18988c998d4d7c4673c9a708f5e060b7"
check "show its text" has "$out" "Write a haiku about LMDB."
check "show its provenance" has "$out" "source magpie-sample (file magpie.jsonl) line 7, version 2"
run "$A" -C "$S" show --at 3 18988c99
golden "show a record retracted at 3" 1 "" "aviary: no record '18988c99' at version 3"
run "$A" -C "$S" show --json cffc2170
check "show --json: the prompt of a response" has "$out" '"prompt":{"id":"40166b58f4cc7aed4fdea27f388c35bf"'
check "show --json: ratings" has "$out" '"ratings":[{"id":"a64fce6f2354aa01eef96a5b67230fce","kind":"rating","model":"gpt-4o","name":"honesty"}]'
check "show --json: tags" has "$out" '"tags":[{"id":"0234661bbd1f4ba000b08723166d591e","kind":"tag","attrs":{"score":1e-07,"note":"multi\nline \u00e9"}}]'
check "show --json: run" has "$out" '"run":{"id":"f0059a2cc86d05cf0f5b78e278065c6d","name":"judge rate"'
run "$A" -C "$S" show a64fce6f
golden "show a rating with no score" 0 "rating a64fce6f2354aa01eef96a5b67230fce
version  2
model    gpt-4o
name     honesty
num      n/a
ref      response cffc21707754e9aea1001445c77f588c" ""
run "$A" -C "$S" show 0234661bbd1f
check "show a tag" has "$out" 'score = 1e-07'

run "$A" -C "$S" retract 0234661b
golden "retract" 0 "" "retracted 1 record in version 6"
run "$A" -C "$S" show 0234661b
check "a retracted record is gone" test "$rc" = 1
run "$A" -C "$S" show --at 5 0234661b
check "... but there at version 5" test "$rc" = 0
run "$A" -C "$S" show 0234661bbd1f4ba000b08723166d591e
golden "show a retracted record by its full id" 1 "" "aviary: record '0234661bbd1f4ba000b08723166d591e' was retracted in version 6 (see it with --at 5)"
run "$A" -C "$S" show --at 3 0234661bbd1f4ba000b08723166d591e
golden "show a record from a later version" 1 "" "aviary: no record '0234661bbd1f4ba000b08723166d591e' at version 3"
run "$A" -C "$S" log -n 1 --format json
check "retract is one commit" has "$out" '"version":6,'
check "retract's message" has "$out" '"message":"retract 1 record"'
run "$A" -C "$S" retract deadbeef00
golden "retract an unknown id" 1 "" "aviary: no visible record 'deadbeef00'"
run "$A" -C "$S" retract 0234
check "retract a short prefix" test "$rc" = 1
check "log unchanged after failed retracts" test "$("$A" -C "$S" log -n 1 --format json | grep -c '"version":6,')" = 1

# merge: a store with its own data gets one commit
"$A" init "$T/m" >/dev/null
"$A" -C "$T/m" add -q "$T/at2.jsonl"
"$A" -C "$T/m" retract -m "mine" 40166b58 2>/dev/null
run "$A" -C "$T/m" add "$SAMPLE"
golden "merge into a store with data" 0 "" "added 1 new records of 13 in version 4"
check "merge keeps the store's own state of a tag the dump retracted" test "$("$A" -C "$T/m" show 7ee5478a >/dev/null 2>&1; echo $?)" = 0
check "merge restores what the dump has visible" test "$("$A" -C "$T/m" show 40166b58 >/dev/null 2>&1; echo $?)" = 0

# usage
for c in init log tag diff retract dump add show; do
    run "$A" "$c" --help
    check "$c --help" test "$rc" = 0
    check "$c --help prints usage" has "$out" "usage: aviary $c"
done
run "$A" -C "$S" log --bogus
check "log --bogus exits 2" test "$rc" = 2
check "log --bogus says so" has "$err" "aviary: unknown option '--bogus'"
run "$A" -C "$S" diff
check "diff without versions exits 2" test "$rc" = 2
run "$A" -C "$S" show
check "show without id exits 2" test "$rc" = 2
run "$A" -C "$T/none" log
golden "no store" 1 "" "aviary: no aviary store in '$T/none' (create one with 'aviary init $T/none', or use -C <dir>)"
finish
