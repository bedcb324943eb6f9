#!/usr/bin/env bash
# ingest_export.sh: the round trip users run: `aviary ingest F.json` then
# `aviary export --format <its format>` gives back every row with the same
# JSON values in the same order, for each sample (tests/data/ingest) and
# each real fixture (../shared/fixtures/real, when present). Compares with
# python3's json (exit 77 without it).
. "$(dirname "$0")/lib/store_lib.bash"
command -v python3 >/dev/null || { echo "python3 absent"; exit 77; }
D=$SRC/tests/data/ingest
R=${AVIARY_SHARED:-$SRC/../shared}/fixtures/real

same_rows() { # SOURCE EXPORTED
    python3 - "$1" "$2" <<'PY'
import json, sys
def rows(p):
    t = open(p, encoding="utf-8").read()
    s = t.lstrip("\ufeff \n\r\t")
    return json.loads(s) if s.startswith("[") else [json.loads(l) for l in t.splitlines() if l.strip()]
a, b = rows(sys.argv[1]), rows(sys.argv[2])
if a != b:
    print(f"{len(a)} rows in, {len(b)} out; first difference at row",
          next((i + 1 for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)) + 1))
    sys.exit(1)
PY
}

# roundtrip FILE FORMAT
roundtrip() {
    local f=$1 fmt=$2 s=$T/s.$RANDOM
    "$A" init "$s" >/dev/null
    run "$A" -C "$s" ingest "$f" -q
    check "$(basename "$f"): ingest" test "$rc" = 0
    run "$A" -C "$s" export --format "$fmt" --out "$T/out.jsonl" --force -q
    check "$(basename "$f"): export --format $fmt" test "$rc" = 0
    run same_rows "$f" "$T/out.jsonl"
    check "$(basename "$f"): same rows back" test "$rc" = 0
    rm -rf "$s" "$T/out.jsonl"
}

roundtrip "$D/magpie_tagged.jsonl" magpie
roundtrip "$D/magpie_dpo.json" magpie
roundtrip "$D/ultrafeedback_raw.jsonl" ultrafeedback
roundtrip "$D/corpus_ultrafeedback.jsonl" ultrafeedback
roundtrip "$D/h4_binarized.jsonl" binarized
roundtrip "$D/alpaca.json" alpaca
roundtrip "$D/sharegpt_tools.json" sharegpt
roundtrip "$D/openai_kto.json" openai
roundtrip "$D/prm800k.jsonl" prm800k
roundtrip "$D/nectar.jsonl" nectar
roundtrip "$D/sharegpt_dpo.json" sharegpt-dpo
roundtrip "$D/helpsteer2_preference.jsonl" helpsteer2-preference
if [ -d "$R" ]; then
    roundtrip "$R/ultrafeedback_binarized.test.jsonl" binarized
    roundtrip "$R/alpaca_en_demo.json" alpaca
    roundtrip "$R/magpie_dpo_5res_armorm.json" magpie
    roundtrip "$R/magpie_raw_generation_mistral.json" magpie
    roundtrip "$R/magpie_tagged_instructions.jsonl" magpie
    roundtrip "$R/sharegpt_toolcall_en_demo.json" sharegpt
fi
finish
