#!/usr/bin/env bash
# export_folder.sh: `aviary export --out DIR`: the dataset folder's layout
# (data/<split>-0000i-of-0000N, README.md card, provenance.json), exact split
# sizes, shards, the card's front matter agreeing with the files, byte-identical
# reruns, --force, refusal of a non-empty target, clear errors for unwritable
# paths, usage errors, and a one-file round trip of H4 rows.
. "$(dirname "$0")/lib/store_lib.bash"
S=$T/s
D=$SRC/tests/data/ingest
"$A" init "$S" >/dev/null && "$A" -C "$S" ingest "$D/h4_binarized.jsonl" --licence mit -q &&
    "$A" -C "$S" ingest "$SRC/tests/data/query_magpie.jsonl" --licence llama3 -q
check "samples load" test $? = 0
py() { python3 -c "$1"; }
nsft=$("$A" -C "$S" export --format sft --out - | wc -l)
check "some sft rows" test "$nsft" -gt 10

run "$A" -C "$S" export --format sft --out "$T/ds" --container jsonl --split train=0.75,test=0.25 --seed 3
check "folder: exit 0" test "$rc" = 0
check "folder: summary on stderr" has "$err" "exported $nsft rows"
check "folder: files" test "$(cd "$T/ds" && find . -type f | sort | tr '\n' ' ')" = "./README.md ./data/test-00000-of-00001.jsonl ./data/train-00000-of-00001.jsonl ./provenance.json "
ntrain=$(wc -l <"$T/ds/data/train-00000-of-00001.jsonl")
ntest=$(wc -l <"$T/ds/data/test-00000-of-00001.jsonl")
exp_test=$(py "import math; n=$nsft; t=0.25*n; print(math.floor(t) + (1 if t-math.floor(t) > 0.75*n-math.floor(0.75*n) else 0))")
check "split: exact sizes" test "$ntest" = "$exp_test" -a $((ntrain + ntest)) = "$nsft"
check "split: every row once" test "$(cat "$T"/ds/data/*.jsonl | sort | md5sum)" = "$("$A" -C "$S" export --format sft --out - | sort | md5sum)"
card=$(cat "$T/ds/README.md")
check "card: front matter" has "$card" "---
license: \"other\"
license_name: \"llama3-and-mit\""
check "card: synthetic tag" has "$card" "tags:
- synthetic"
check "card: size category" has "$card" "size_categories:
- n<1K"
check "card: configs" has "$card" "configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
  - split: test
    path: data/test-*"
check "card: features" has "$card" "  features:
  - name: messages
    list:
    - name: role
      dtype: string
    - name: content
      dtype: string"
check "card: split sizes" has "$card" "  - name: train
    num_bytes: $(wc -c <"$T/ds/data/train-00000-of-00001.jsonl")
    num_examples: $ntrain"
check "card: provenance prose" has "$card" "- Store version: 2"
check "card: licence breakdown" has "$card" '`mit`'
check "card: filter" has "$card" "- Filter: none"
check "card: generator counted once per row" has "$card" '- Generator models: `meta-llama/Meta-Llama-3-8B-Instruct` (12)'
check "card: sources" has "$card" '- Sources (selected units from each): '
check "provenance: one entry per row, with ids and sources" test "$(py 'import json; p=json.load(open("'"$T"'/ds/provenance.json")); print(p["store_version"], len(p["rows"]), all(len(r["id"])==32 and r["sources"] for r in p["rows"]))')" = "2 $nsft True"

# Reruns are byte-identical; a non-empty target needs --force.
# provenance.json records the command line, so compare it without that.
sums() { (cd "$1" && find . -type f ! -name provenance.json | sort | xargs md5sum && sed 1d provenance.json | md5sum); }
sum1=$(sums "$T/ds")
run "$A" -C "$S" export --format sft --out "$T/ds" --container jsonl --split train=0.75,test=0.25 --seed 3
check "non-empty target: exit 1" test "$rc" = 1
check "non-empty target: says --force" has "$err" "aviary: '$T/ds' is not empty (use --force to replace it)"
run "$A" -C "$S" export --format sft --out "$T/ds" --container jsonl --split train=0.75,test=0.25 --seed 3 --force
check "force: exit 0" test "$rc" = 0
check "force: byte-identical rerun" test "$sum1" = "$(sums "$T/ds")"
check "no temporaries left" test -z "$(ls -A "$T" | grep aviary)"
run "$A" -C "$S" export --format sft --out "$T/ds2" --container jsonl --split train=0.75,test=0.25 --seed 4
check "another seed, another split" test "$(md5sum <"$T/ds/data/test-00000-of-00001.jsonl")" != "$(md5sum <"$T/ds2/data/test-00000-of-00001.jsonl")"

run "$A" -C "$S" export --format sft --out "$T/sh" --container jsonl --shard-size 1K
n=$(ls "$T/sh/data" | wc -l)
check "shards: several files" test "$n" -gt 2
check "shards: named i-of-N" test "$(ls "$T/sh/data" | head -1)" = "train-00000-of-$(printf %05d "$n").jsonl"
check "shards: rows in order" test "$(cat "$T"/sh/data/*.jsonl | md5sum)" = "$("$A" -C "$S" export --format sft --out - | md5sum)"

# Errors.
run "$A" -C "$S" export --format sft --out /proc/aviary-no/x.jsonl
check "unwritable: exit 1" test "$rc" = 1
check "unwritable: names the path" has "$err" "aviary: cannot write beside '/proc/aviary-no/x.jsonl'"
mkdir "$T/ro" && chmod 555 "$T/ro"
if [ "$(id -u)" != 0 ]; then
    run "$A" -C "$S" export --format sft --out "$T/ro/ds"
    check "read-only folder: exit 1" test "$rc" = 1
fi
run "$A" -C "$S" export --format sft --out "$T/x.jsonl" --split train=0.5,test=0.5
check "split into one file: usage" test "$rc" = 2
check "split into one file: says why" has "$err" "aviary: --split needs a folder for --out (one file per split)"
check "split into one file: usage follows" has "$err" "usage: aviary export"
run "$A" -C "$S" export --format sft --out "$T/y" --split train=0.5,test=0.4
check "fractions not adding up: usage" test "$rc" = 2
check "fractions: says so" has "$err" "aviary: split fractions in 'train=0.5,test=0.4' add up to 0.9, not 1"
run "$A" -C "$S" export --format nonesuch --out "$T/z"
check "unknown format: usage" test "$rc" = 2
check "unknown format: named" has "$err" "aviary: unknown export format 'nonesuch'"
run "$A" -C "$S" export --format sft --out - --container parquet
check "parquet to stdout: usage" test "$rc" = 2
run "$A" -C "$S" export --format sft --out "$T/q.jsonl" --where 'tag.nonesuch ='
check "bad filter: exit 1" test "$rc" = 1
check "bad filter: nothing written" test ! -e "$T/q.jsonl"
run "$A" -C "$S" export --help
check "help: exit 0 on stdout" test "$rc" = 0 -a -n "$out"
check "help: synopsis" has "$out" "usage: aviary export --format <format>"

# --at: an earlier version exports what it held then.
n1=$("$A" -C "$S" export --format sft --at 1 --out - | wc -l)
check "--at 1: only the first ingest" test "$n1" -gt 0 -a "$n1" -lt "$nsft"
run "$A" -C "$S" export --format sft --at 9 --out -
check "--at past head: exit 1" test "$rc" = 1

# One file, the source's own shape: every row back with the same values.
run "$A" -C "$S" export --format binarized --out "$T/h4.jsonl"
check "binarized file: exit 0" test "$rc" = 0
check "binarized round trip" test "$(py 'import json; a=[json.loads(l) for l in open("'"$D"'/h4_binarized.jsonl")]; b=[json.loads(l) for l in open("'"$T"'/h4.jsonl")]; print(a==b)')" = True
finish
