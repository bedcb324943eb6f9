#!/usr/bin/env bash
# store_dump_tags.sh: version names (`aviary tag`) travel in a dump (a
# "tags" list on their commit line), so dump -> add into an empty store gives
# the same `tag`, `log` and `--at NAME` answers and dumps the same bytes; a
# dump --at V carries only names of versions up to V; an add onto a prefix of
# the history keeps a name the store already gives another version and says
# so; a merge (one new commit) sets none; a bad "tags" field is a line error.
. "$(dirname "$0")/lib/store_lib.bash"
SAMPLE=$SRC/tests/data/native_sample.jsonl
"$A" init "$T/x" >/dev/null
"$A" -C "$T/x" add "$SAMPLE" 2>/dev/null
"$A" -C "$T/x" tag v1 1
"$A" -C "$T/x" tag base 1
"$A" -C "$T/x" tag retracted 3
"$A" -C "$T/x" dump >"$T/x.jsonl"
check "the names are on their commit lines" test "$(grep -c '"tags":\["base","v1"\]}$' "$T/x.jsonl")$(grep -c '"tags":\["retracted"\]}$' "$T/x.jsonl")" = 11

"$A" init "$T/y" >/dev/null
run "$A" -C "$T/y" add "$T/x.jsonl"
golden "add into an empty store" 0 "" "replayed versions 1 to 5 from '$T/x.jsonl' (13 records)"
run "$A" -C "$T/y" tag
golden "the names are restored" 0 "base       1
retracted  3
v1         1" ""
check "log --format json is the same" test "$("$A" -C "$T/y" log --format json)" = "$("$A" -C "$T/x" log --format json)"
check "--at NAME answers as in the original" test "$("$A" -C "$T/y" dump --at retracted)" = "$("$A" -C "$T/x" dump --at retracted)"
check "dump -> add -> dump is byte-identical" cmp -s "$T/x.jsonl" <("$A" -C "$T/y" dump)
check "dump --at 2 carries only names up to 2" test "$("$A" -C "$T/x" dump --at 2 | grep -c '"tags"')" = 1

# a store holding the first two versions, where 'v1' names version 2
"$A" init "$T/z" >/dev/null
"$A" -C "$T/x" dump --at 2 | sed 's/,"tags":\[[^]]*\]//' >"$T/x2.jsonl"
"$A" -C "$T/z" add "$T/x2.jsonl" 2>/dev/null
"$A" -C "$T/z" tag v1 2
run "$A" -C "$T/z" add "$T/x.jsonl"
check "onto a prefix: replayed" has "$err" "replayed versions 3 to 5"
check "onto a prefix: the clash is said" has "$err" "aviary: tag 'v1' names version 2 here but version 1 in the dump; kept"
check "onto a prefix: the other names are set" test "$("$A" -C "$T/z" tag)" = "base       1
retracted  3
v1         2"

# a merge into a store with another history sets no names
"$A" init "$T/m" >/dev/null
"$A" -C "$T/m" add "$T/x2.jsonl" 2>/dev/null
"$A" -C "$T/m" retract 18988c99 2>/dev/null
run "$A" -C "$T/m" add "$T/x.jsonl"
check "merge: one new commit" has "$err" "added"
check "merge: no names" test -z "$("$A" -C "$T/m" tag)"

# bad "tags" fields
"$A" init "$T/b" >/dev/null
sed '2s/}$/,"tags":[]}/' "$SAMPLE" >"$T/bad1.jsonl"
run "$A" -C "$T/b" add "$T/bad1.jsonl"
golden "an empty tags list" 1 "" "aviary: $T/bad1.jsonl:2: 'tags' must be a non-empty array of version names"
sed '2s/}$/,"tags":[7]}/' "$SAMPLE" >"$T/bad2.jsonl"
run "$A" -C "$T/b" add "$T/bad2.jsonl"
golden "a tag that is not a string" 1 "" "aviary: $T/bad2.jsonl:2: 'tags' must be a non-empty array of version names"
check "nothing committed" test -z "$("$A" -C "$T/b" log)"
finish
