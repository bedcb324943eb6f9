#!/usr/bin/env bash
# dedup_curate.sh: `aviary dedup` and `aviary curate magpie` end to end on the
# shipped Magpie sample (tests/data/dedup_magpie_sample.jsonl: 40 make_corpus
# rows with --dup-rate 0.3, responses shortened, plus an accented/upper-case
# copy of row 1 and an instruction ending in ':'): the summary, the tags as
# queries see them, an idempotent second run, the curated selection against
# the same recipe written as a query, `--at NAME`, and every usage error.
set -u
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect() { # what got want
    if [ "$2" = "$3" ]; then ok; else bad "$1: got [$2], want [$3]"; fi
}
expect_rc() { # what rc want
    if [ "$2" -eq "$3" ]; then ok; else bad "$1: exit $2, want $3"; fi
}
A=${AVIARY:?}
S=$(mktemp -d)
trap 'rm -rf "$S"' EXIT
D="$S/store"
sample="$AVIARY_SRC/tests/data/dedup_magpie_sample.jsonl"

"$A" init "$D" >/dev/null 2>&1
"$A" -C "$D" ingest "$sample" >/dev/null 2>&1
expect_rc "ingest" $? 0

# first run: every signature computed, one tag per prompt
out=$("$A" -C "$D" dedup -q 2>"$S/err"); rc=$?
expect_rc "dedup" $rc 0
expect "dedup summary" "$(printf '%s\n' "$out" | grep -v '^version')" "$(printf 'prompts\t31\nsignatures\t31 computed, 0 reused\ncandidates\t4 pairs, 4 at or above 0.7\nclusters\t4\nduplicates\t5 (1 exact)\ntags\t31 added, 0 retracted')"
expect "dedup quiet stderr" "$(cat "$S/err")" ""

# the accented upper-case copy is an exact duplicate (after normalisation) of row 1
got=$("$A" -C "$D" query 'tag.uuid = "00000000-0000-4000-8000-000000000001"' --fields tag.dedup_keep,tag.dedup_similarity --format jsonl 2>&1)
case "$got" in *'"tag.dedup_keep":false'*'"tag.dedup_similarity":1'*) ok ;; *) bad "accented copy: $got" ;; esac
expect "non-representatives" "$("$A" -C "$D" query --kind prompt 'tag.dedup_keep = false' --format count 2>&1)" "5"
expect "one dedup tag per prompt" "$("$A" -C "$D" query --kind tag 'exists tag.dedup_cluster and not exists tag.uuid' --format count 2>&1)" "31"

# second run: signatures reused, nothing to tag, no new version
before=$("$A" -C "$D" log 2>/dev/null | grep -c '^version')
out=$("$A" -C "$D" dedup -q 2>&1)
expect "second run signatures" "$(printf '%s\n' "$out" | grep '^signatures')" "$(printf 'signatures\t0 computed, 31 reused')"
expect "second run tags" "$(printf '%s\n' "$out" | grep '^tags')" "$(printf 'tags\t0 added, 0 retracted')"
expect "second run makes no version" "$("$A" -C "$D" log 2>/dev/null | grep -c '^version')" "$before"

# exact only: the near copies are no longer joined, their tags are replaced
out=$("$A" -C "$D" dedup --exact -q 2>&1)
expect "exact only duplicates" "$(printf '%s\n' "$out" | grep '^duplicates')" "$(printf 'duplicates\t1 (1 exact)')"
expect "still one dedup tag per prompt" "$("$A" -C "$D" query --kind tag 'exists tag.dedup_cluster and not exists tag.uuid' --format count 2>&1)" "31"
"$A" -C "$D" dedup -q >/dev/null 2>&1

# curate: the selection equals the recipe written as a query (top 5 by length)
out=$("$A" -C "$D" curate magpie --top 5 -q 2>&1); rc=$?
expect_rc "curate" $rc 0
expect "curate funnel" "$(printf '%s\n' "$out" | grep -v '^version')" "$(printf 'rows\t42\ninput_quality good or excellent\t18\ninstruct_reward > -10\t18\ninstruction not ending in '"':'"'\t17\ncluster representative\t15\ndistinct prompts\t13\nselected\t5\nname\tmagpie-top5')"
want=$("$A" -C "$D" query 'tag.input_quality in ("good", "excellent") and tag.instruct_reward > -10 and not instruction matches ":$" and tag.dedup_keep = true' --order-by 'len(response)' --desc --limit 5 --format ids 2>&1 | sort)
got=$("$A" -C "$D" query --at magpie-top5 'tag.curate = "magpie-top5"' --format ids 2>&1 | sort)
expect "curated rows" "$got" "$want"
expect "curated count" "$(printf '%s\n' "$got" | grep -c .)" "5"
ranks=$("$A" -C "$D" query --at magpie-top5 'tag.curate = "magpie-top5"' --fields tag.curate_rank --format jsonl 2>&1 | grep -o '[0-9]*}' | tr -d '}' | sort -n | tr '\n' ' ')
expect "curate ranks" "$ranks" "0 1 2 3 4 "

# export sees exactly the selection at the name (Magpie rows rebuilt as ingested)
n=$("$A" -C "$D" export --format magpie --out - --at magpie-top5 --where 'tag.curate = "magpie-top5"' 2>/dev/null | grep -c '"uuid"')
expect "export --at NAME --where tag.curate" "$n" "5"

# the same recipe under another name and seed selects the same rows
"$A" -C "$D" curate magpie --top 5 --seed 7 --tag other -q >/dev/null 2>&1
expect "other seed, same rows" "$("$A" -C "$D" query 'tag.curate = "other"' --format ids 2>&1 | sort)" "$want"

# a name in use is refused before any work
err=$("$A" -C "$D" curate magpie --top 5 2>&1 >/dev/null); rc=$?
expect_rc "name in use" $rc 1
expect "name in use message" "$err" "aviary: 'magpie-top5' already names version 5; choose another with --tag"

# usage errors: exit 2, a message and the usage on stderr, nothing on stdout
usage_case() { # what expected-first-line args...
    local what=$1 want=$2
    shift 2
    local o e r
    o=$("$A" -C "$D" "$@" 2>"$S/e"); r=$?
    e=$(head -1 "$S/e")
    expect_rc "$what" $r 2
    expect "$what message" "$e" "$want"
    expect "$what stdout" "$o" ""
}
usage_case "bands divide" "aviary: --bands (15) must divide --perm (112)" dedup --perm 112 --bands 15
usage_case "perm alone" "aviary: --perm and --bands go together" dedup --perm 128
usage_case "threshold range" "aviary: --threshold must be a number in (0, 1], not '1.5'" dedup --threshold 1.5
usage_case "threshold junk" "aviary: --threshold must be a number in (0, 1], not '0.7x'" dedup --threshold 0.7x
usage_case "ngram range" "aviary: --ngram must be 1 to 64, not '0'" dedup --ngram 0
usage_case "near options need near" "aviary: --threshold, --ngram, --perm and --bands need --near" dedup --exact --threshold 0.8
usage_case "missing value" "aviary: '--where' needs a value" dedup --where
usage_case "unknown option" "aviary: unknown option '--fast'" dedup --fast
usage_case "bad where" "aviary: unknown field 'nosuchfield'; nearest known: tag.nosuchfield (a tag key is written tag.<key>) at column 1" dedup --where 'nosuchfield = 1'
usage_case "no recipe" "aviary: which recipe? (magpie)" curate
usage_case "unknown recipe" "aviary: unknown recipe 'alpaca' (known: magpie)" curate alpaca
usage_case "top zero" "aviary: --top must be at least 1" curate magpie --top 0
usage_case "top junk" "aviary: --top must be a non-negative integer, not '-3'" curate magpie --top -3

# --help: usage on stdout, exit 0
o=$("$A" -C "$D" dedup --help); r=$?
expect_rc "dedup --help" $r 0
case "$o" in "usage: aviary dedup "*) ok ;; *) bad "dedup --help: $o" ;; esac
o=$("$A" -C "$D" curate --help); r=$?
expect_rc "curate --help" $r 0
case "$o" in "usage: aviary curate magpie "*) ok ;; *) bad "curate --help: $o" ;; esac

# --where limits the scope: only those prompts are (re)tagged
"$A" init "$S/w" >/dev/null 2>&1
"$A" -C "$S/w" ingest "$sample" >/dev/null 2>&1
out=$("$A" -C "$S/w" dedup --where 'tag.language = "EN"' -q 2>&1); rc=$?
expect_rc "dedup --where" $rc 0
n_en=$("$A" -C "$S/w" query --kind prompt 'tag.dedup_cluster >= 0' --format count 2>&1)
expect "dedup --where tags only the scope" "$(printf '%s\n' "$out" | grep '^prompts' | cut -f2)" "$n_en"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
