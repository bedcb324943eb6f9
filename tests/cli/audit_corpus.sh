#!/usr/bin/env bash
# audit_corpus.sh: licences per row on a mixed store built from
# make_corpus.py output: UltraFeedback raw (several model families under
# MIT, Apache-2.0, Llama 3, Tongyi Qianwen and OpenAI terms), Magpie from
# Llama 3, and a judged subset (pairs judged by gpt-4o, whose licence is set
# with `aviary model set`, and by a judge of unknown licence). The expected
# licence set of every row is computed independently in Python from the
# corpus generator's own model -> licence table; policy violation counts and
# the rows --drop-violations leaves out follow from those sets.
# Skips (77) without python3 or ../shared/bench/make_corpus.py.
. "$(dirname "$0")/lib/store_lib.bash"
MC=${AVIARY_SHARED:-$SRC/../shared}/bench/make_corpus.py
command -v python3 >/dev/null || { echo "skip: no python3"; exit 77; }
[ -f "$MC" ] || { echo "skip: no $MC"; exit 77; }
S=$T/s
# make_corpus.py spends ~12 s starting up whatever the row count: both at once
python3 "$MC" --format ultrafeedback --rows 30 --seed 7 >"$T/uf.jsonl" &
uf_pid=$!
python3 "$MC" --format magpie --rows 20 --seed 7 >"$T/magpie.jsonl" || exit 1
wait "$uf_pid" || exit 1
"$A" init "$S" >/dev/null
run "$A" -C "$S" ingest "$T/uf.jsonl" --source ultrafeedback --licence mit -q
check "ingest ultrafeedback" test "$rc" = 0
run "$A" -C "$S" ingest "$T/magpie.jsonl" --source magpie-pro --licence MIT -q
check "ingest magpie" test "$rc" = 0
run "$A" -C "$S" model set gpt-4o --licence openai-terms
check "model set" test "$rc" = 0

# The judged subset: pairs of the first UltraFeedback prompts, as native records.
"$A" -C "$S" dump >"$T/before.jsonl"
python3 - "$T/before.jsonl" "$T/judged.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])][1:]
recs = [r for r in recs if "kind" in r]
src = {r["id"]: r["name"] for r in recs if r["kind"] == "source"}
uf_prompts = [r["id"] for r in recs if r["kind"] == "prompt"
              and any(src.get(p["source"]) == "ultrafeedback" for p in r.get("prov", []))]
resp = {}
for r in recs:
    if r["kind"] == "response":
        resp.setdefault(r["refs"][0], []).append(r["id"])
out = [json.dumps({"aviary": "dump", "format": 1, "version": 0}), json.dumps({"kind": "model", "name": "unknown-judge"})]
for i, p in enumerate(uf_prompts[:6]):
    a, b = resp[p][0], resp[p][1]
    judge = "gpt-4o" if i < 4 else "unknown-judge"
    out.append(json.dumps({"kind": "preference", "refs": [p, a, b], "model": judge, "name": "text", "num": 1.0,
                           "msgs": [{"role": "rationale", "text": "Response A is better (%d)." % i}]}))
open(sys.argv[2], "w").write("\n".join(out) + "\n")
PY
check "judged subset written" test $? = 0
run "$A" -C "$S" add "$T/judged.jsonl"
check "judged subset added" test "$rc" = 0

"$A" -C "$S" dump >"$T/all.jsonl"
"$A" -C "$S" audit --rows >"$T/rows.tsv"
check "audit --rows" test $? = 0
python3 - "$MC" "$T/all.jsonl" "$T/rows.tsv" "$T/expect.txt" <<'PY'
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("mc", sys.argv[1])
mc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mc)
lic_of = dict(mc.MODELS)  # the generator's own model -> licence table
recs = [json.loads(l) for l in open(sys.argv[2])][1:]
recs = [r for r in recs if "kind" in r]
judged = {}
for r in recs:
    if r["kind"] == "preference":
        for x in r["refs"][1:]:
            judged.setdefault(x, set()).add("openai-terms" if r["model"] == "gpt-4o" else "unknown")
    if r["kind"] == "rating" and r.get("model") == "gpt-4":
        # UltraFeedback's annotations are GPT-4's: its terms come with them
        judged.setdefault(r["refs"][0], set()).add("openai-terms")
uf_rated = sum(1 for r in recs if r["kind"] == "rating" and r.get("model") == "gpt-4")
assert uf_rated > 0, "UltraFeedback ratings carry no GPT-4 judge"
want = {}
for r in recs:
    if r["kind"] != "response":
        continue
    s = {"mit", lic_of[r["model"]]} | judged.get(r["id"], set())
    want[r["id"]] = " + ".join(sorted(s))
got = {}
for line in open(sys.argv[3]):
    f = line.rstrip("\n").split("\t")
    got[f[0]] = f[1]
bad = [(k, want[k], got.get(k)) for k in want if got.get(k) != want[k]]
for b in bad[:10]:
    print("row %s: want %s, got %s" % b)
assert len(want) == 30 * 4 + 20, len(want)
assert set(got) == set(want), "different rows"
assert not bad, "%d rows differ" % len(bad)
restricted = {"llama3", "openai-terms", "tongyi-qianwen", "unknown"}
n_comm = sum(1 for v in want.values() if restricted & set(v.split(" + ")))
n_openai = sum(1 for v in want.values() if "openai-terms" in v.split(" + "))
n_unknown = sum(1 for v in want.values() if "unknown" in v.split(" + "))
open(sys.argv[4], "w").write("%d %d %d %d\n" % (len(want), n_comm, n_openai, n_unknown))
PY
check "every row's licence set is as expected" test $? = 0
read -r n_rows n_comm n_openai n_unknown <"$T/expect.txt"
check "some rows are judged by gpt-4o" test "$n_openai" -gt 0
check "two pairs have an unknown judge" test "$n_unknown" = 4

run "$A" -C "$S" audit
check "audit: row count" has "$out" "$n_rows rows at version 4"
check "audit: unknown rows" has "$out" "unknown lineage: $n_unknown rows"
check "audit: unknown judge named" has "$out" "model 'unknown-judge' has no licence"
check "audit: magpie source" has "$out" "magpie-pro     mit"
check "audit: Llama 3 naming rule for the card" has "$out" '"Llama 3" at the beginning of its name'

run "$A" -C "$S" audit --policy "$SRC/tests/data/policies/commercial.json"
check "commercial policy: exit 1" test "$rc" = 1
check "commercial policy: count" test "$err" = "aviary: $n_comm of $n_rows rows violate policy 'commercial release'"
run "$A" -C "$S" audit --policy "$SRC/tests/data/policies/no-openai.json"
check "no-openai policy: count" test "$err" = "aviary: $n_openai of $n_rows rows violate policy 'no OpenAI outputs'"

run "$A" -C "$S" export --format sft --out "$T/out" --policy "$SRC/tests/data/policies/commercial.json"
check "export refused" test "$rc" = 1
check "export refused leaves nothing" test ! -e "$T/out"
run "$A" -C "$S" export --format sft --out "$T/out" --container jsonl --policy "$SRC/tests/data/policies/commercial.json" --drop-violations
check "export with --drop-violations" test "$rc" = 0
check "drop count" has "$err" "left out $n_comm of $n_rows rows that violate policy 'commercial release'"
check "rows kept" test "$(cat "$T"/out/data/*.jsonl | wc -l)" = $((n_rows - n_comm))

finish
