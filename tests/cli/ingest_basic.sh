#!/usr/bin/env bash
# ingest_basic.sh: golden tests of `aviary ingest` on the shipped samples
# (tests/data/ingest): detection, counts, idempotency ("0 new, N already
# present" and no new version), gzip / zstd / stdin inputs, one commit per
# command, --format, usage errors, and `aviary model` licences.
. "$(dirname "$0")/lib/store_lib.bash"
S=$T/s
D=$SRC/tests/data/ingest
"$A" init "$S" >/dev/null

run "$A" -C "$S" ingest "$D/magpie_tagged.jsonl" --source magpie-sample --licence llama3 --url https://example.org/m
golden "ingest magpie" 0 "" "$D/magpie_tagged.jsonl: 3 rows as magpie: 3 new, 0 already present
committed version 1"
run "$A" -C "$S" ingest "$D/magpie_tagged.jsonl" --source magpie-sample --licence llama3 --url https://example.org/m
golden "ingest again adds nothing" 0 "" "$D/magpie_tagged.jsonl: 3 rows as magpie: 0 new, 3 already present
nothing new to commit"
run "$A" -C "$S" log
check "still one version" test "$(grep -c '^version ' <<<"$out")" = 1
check "commit message counts rows" has "$out" "ingest $D/magpie_tagged.jsonl: 3 new, 0 already present"

# the source record: file, its sha256, url, the licence as the registry spells it, format
run "$A" -C "$S" dump
sha=$(sha256sum "$D/magpie_tagged.jsonl" | cut -d' ' -f1)
check "source record" has "$out" "\"kind\":\"source\",\"id\":"
check "source attrs" has "$out" "\"name\":\"magpie-sample\",\"attrs\":{\"file\":\"magpie_tagged.jsonl\",\"sha256\":\"$sha\",\"url\":\"https://example.org/m\",\"licence\":\"llama3\",\"format\":\"magpie\"}"

# compressed and piped inputs: same rows, so nothing new but the new sources' links
gzip -c "$D/magpie_tagged.jsonl" >"$T/m.jsonl.gz"
run "$A" -C "$S" ingest "$T/m.jsonl.gz"
golden "gzip input" 0 "" "$T/m.jsonl.gz: 3 rows as magpie: 0 new, 3 already present
committed version 2"
if command -v zstd >/dev/null; then
    zstd -q -c "$D/ultrafeedback_raw.jsonl" >"$T/uf.jsonl.zst"
    run "$A" -C "$S" ingest "$T/uf.jsonl.zst"
    golden "zstd input" 0 "" "$T/uf.jsonl.zst: 1 rows as ultrafeedback: 1 new, 0 already present
committed version 3"
else
    "$A" -C "$S" ingest "$D/ultrafeedback_raw.jsonl" >/dev/null 2>&1
fi
run bash -c "cat '$D/alpaca.json' | '$A' -C '$S' ingest - --source alpaca-sample --licence 'CC BY 4.0'"
golden "stdin, a JSON array" 0 "" "-: 3 rows as alpaca: 3 new, 0 already present
committed version 4"

run "$A" -C "$S" dump
check "stdin source: file '-', licence normalised" has "$out" "\"name\":\"alpaca-sample\",\"attrs\":{\"file\":\"-\",\"sha256\":\"$(sha256sum <"$D/alpaca.json" | cut -d' ' -f1)\",\"licence\":\"cc-by-4.0\",\"format\":\"alpaca\"}"

# several files, one commit
run "$A" -C "$S" ingest "$D/h4_binarized.jsonl" "$D/nectar.jsonl"
golden "two files, one commit" 0 "" "$D/h4_binarized.jsonl: 2 rows as binarized: 2 new, 0 already present
$D/nectar.jsonl: 2 rows as nectar: 2 new, 0 already present
committed version 5"

# --format names a format; a wrong one is a usage error
run "$A" -C "$S" ingest "$D/skywork.jsonl" --format skywork
golden "--format skywork" 0 "" "$D/skywork.jsonl: 1 rows as skywork: 1 new, 0 already present
committed version 6"
run "$A" -C "$S" ingest "$D/skywork.jsonl" --format nosuch
check "unknown --format exits 2" test "$rc" = 2
check "unknown --format names the known ones" has "$err" "aviary: unknown format 'nosuch' (known: magpie, ultrafeedback,"
run "$A" -C "$S" ingest "$D/alpaca.json" --format sharegpt
check "a format that does not fit: exit 1" test "$rc" = 1
check "a format that does not fit: row error" has "$err" "alpaca.json:2: missing required field 'conversations'"
run "$A" -C "$S" ingest
check "no files: exit 2" test "$rc" = 2
run "$A" -C "$S" ingest --help
check "--help: exit 0" test "$rc" = 0
check "--help: usage on stdout" has "$out" "usage: aviary ingest <file>..."
run "$A" -C "$S" ingest "$T/none.jsonl"
golden "missing file" 1 "" "aviary: cannot open '$T/none.jsonl': No such file or directory"

# --progress draws the progress line even when stderr is not a terminal
run "$A" -C "$S" ingest "$D/prm800k.jsonl" --progress
check "--progress: rows and speed" has "$err" "prm800k.jsonl: 1 rows, "
check "--progress: percent of a known size" has "$err" "100%, ETA 0s"
run "$A" -C "$S" ingest "$D/prm800k.jsonl" -q
golden "-q: silent" 0 "" ""

# unrecognised shape: the keys seen and the formats known
printf '{"foo": 1, "bar": [2]}\n' >"$T/odd.jsonl"
run "$A" -C "$S" ingest "$T/odd.jsonl"
check "unknown shape: exit 1" test "$rc" = 1
check "unknown shape: keys and formats" has "$err" "odd.jsonl:1: unrecognised row shape (keys: foo, bar); known formats: magpie, ultrafeedback"

# models and their licences: built-in registry, unknown, then set by the user
run "$A" -C "$S" model list
check "model list: llama-3 from the registry" has "$out" "meta-llama/Meta-Llama-3-70B-Instruct	llama3"
check "model list: gpt-4 from the registry" has "$out" "gpt-4	openai-terms"
check "model list: llama-2 chat" has "$out" "llama-2-13b-chat	llama2"
check "model list: unknown is unknown" has "$out" "vicuna-33b	unknown"
run "$A" -C "$S" model set vicuna-33b --licence "Apache 2.0"
golden "model set" 0 "vicuna-33b	apache-2.0" ""
run "$A" -C "$S" model set vicuna-33b --licence unknown
run "$A" -C "$S" model set vicuna-33b --licence apache-2.0
run "$A" -C "$S" model
check "model set A, B, A: A is current" has "$out" "vicuna-33b	apache-2.0"
run "$A" -C "$S" model set vicuna-33b --licence no-such-licence
check "model set: unknown licence is an error" test "$rc" = 1
check "model set: unknown licence message" has "$err" "unknown licence 'no-such-licence'"
run "$A" -C "$S" model set vicuna-33b
check "model set without --licence: exit 2" test "$rc" = 2
# re-ingesting never overrides a licence the user set
"$A" -C "$S" ingest "$T/uf.jsonl.zst" "$D/ultrafeedback_raw.jsonl" >/dev/null 2>&1
run "$A" -C "$S" model list
check "ingest keeps the user's licence" has "$out" "vicuna-33b	apache-2.0"
run "$A" -C "$S" model list --at 4
check "model list --at an earlier version" has "$out" "vicuna-33b	unknown"

finish
