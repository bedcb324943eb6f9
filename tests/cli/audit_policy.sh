#!/usr/bin/env bash
# audit_policy.sh: `aviary audit` on the shipped mixed sample
# (tests/data/licence_mixed.jsonl): the whole table report (golden), JSON
# figures, --where / --kind / --at, and policies from tests/data/policies:
# violations listed with their reasons and exit 1, a clean policy exit 0,
# bad policy files reported as file:line.
. "$(dirname "$0")/lib/store_lib.bash"
S=$T/s
P=$SRC/tests/data/policies
"$A" init "$S" >/dev/null && "$A" -C "$S" add "$SRC/tests/data/licence_mixed.jsonl" 2>/dev/null
check "sample loads" test $? = 0

cat >"$T/want" <<'EOF'
6 rows at version 2

by licence combination
  licences                             rows
  acme-weird + unknown                    1
  apache-2.0 + llama3 + mit + unknown     1
  apache-2.0 + mit + openai-terms         1
  llama2 + mit + openai-terms             1
  llama3 + mit + unknown                  1
  mit + openai-terms                      1

by licence
  licence       rows  commercial  attribution  share-alike  naming  output-restriction  name
  mit              5  yes         yes          no           no      no                  MIT License
  openai-terms     3  yes         no           no           no      yes                 OpenAI Terms of Use
  unknown          3  ?           ?            ?            ?       ?                   (unknown)
  apache-2.0       2  yes         yes          no           no      no                  Apache License 2.0
  llama3           2  limited     yes          no           yes     yes                 Meta Llama 3 Community License Agreement
  acme-weird       1  ?           ?            ?            ?       ?                   (not in the registry)
  llama2           1  limited     yes          no           no      yes                 Llama 2 Community License Agreement

by source
  source         licence  rows
  ultrafeedback  mit         3
  magpie-llama3  mit         2
  scraped        unknown     1

by model
  model                                 licence       roles             rows
  gpt-4                                 openai-terms  judge                2
  meta-llama/Meta-Llama-3-70B-Instruct  llama3        generator,writer     2
  meta-llama/Meta-Llama-3-8B-Instruct   llama3        tagger               2
  mistralai/Mixtral-8x7B-Instruct-v0.1  apache-2.0    writer               2
  mystery-judge                         unknown       judge                2
  custom-model                          acme-weird    writer               1
  gpt-3.5-turbo                         openai-terms  model                1
  llama-2-13b-chat                      llama2        writer               1

unknown lineage: 3 rows
  011539b3a7e6a2567601d9c8fefb35ea  model 'mystery-judge' has no licence
  c2e8c449f44a0acf2c3577dd1b50abae  model 'mystery-judge' has no licence
  056ba5ee23280c0e8e1f17345ae64c68  licence 'acme-weird' of model 'custom-model' is not in the registry; source 'scraped' has no licence

obligations (for the dataset card)

## Licence

Each row carries the terms of the sources it came from and of every model that wrote, judged or tagged it. This breakdown was derived by aviary from the lineage of the 6 rows (store version 2); it is a summary, not legal advice: the licences' own texts govern.

| licence | rows | commercial use | attribution | share-alike | naming rule | restriction on training with outputs |
|---|---:|---|---|---|---|---|
| [MIT License](https://opensource.org/license/mit) (`mit`) | 5 | yes | yes | no | no | no |
| [OpenAI Terms of Use](https://openai.com/policies/terms-of-use/) (`openai-terms`) | 3 | yes | no | no | no | yes |
| `unknown` (unknown) | 3 | ? | ? | ? | ? | ? |
| [Apache License 2.0](https://www.apache.org/licenses/LICENSE-2.0) (`apache-2.0`) | 2 | yes | yes | no | no | no |
| [Meta Llama 3 Community License Agreement](https://github.com/meta-llama/llama3/blob/main/LICENSE) (`llama3`) | 2 | limited | yes | no | yes | yes |
| `acme-weird` (not in the registry) | 1 | ? | ? | ? | ? | ? |
| [Llama 2 Community License Agreement](https://github.com/meta-llama/llama/blob/main/LICENSE) (`llama2`) | 1 | limited | yes | no | no | yes |

3 rows have a source or model of unknown licence in their lineage; check them before publishing.

### Obligations

- **MIT License** (`mit`), 5 rows, via ultrafeedback, magpie-llama3: keep the copyright notice and the permission notice in copies.
- **OpenAI Terms of Use** (`openai-terms`), 3 rows, via gpt-4, gpt-3.5-turbo: you may not use Output to develop models that compete with OpenAI; follow the use policy at https://openai.com/policies/usage-policies/; OpenAI assigns its rights in Output to the user.
- **Apache License 2.0** (`apache-2.0`), 2 rows, via mistralai/Mixtral-8x7B-Instruct-v0.1: keep the licence, copyright and NOTICE texts; state significant changes.
- **Meta Llama 3 Community License Agreement** (`llama3`), 2 rows, via meta-llama/Meta-Llama-3-70B-Instruct, meta-llama/Meta-Llama-3-8B-Instruct: commercial use is limited: more than 700 million monthly active users on the release date need a separate licence from Meta; keep the notice quoted below; prominently display "Built with Meta Llama 3" on a related website, user interface, blogpost, about page or product documentation; an AI model created, trained, fine-tuned or improved with the Llama Materials and distributed must have "Llama 3" at the beginning of its name (section 1.b.i); you will not use the Llama Materials or any output or results of the Llama Materials to improve any other large language model (excluding Meta Llama 3 or derivative works thereof) (section 1.b.v); follow the use policy at https://llama.meta.com/llama3/use-policy; redistribution includes a copy of the agreement.
- **Llama 2 Community License Agreement** (`llama2`), 1 row, via llama-2-13b-chat: commercial use is limited: more than 700 million monthly active users on the release date need a separate licence from Meta; keep the notice quoted below; you will not use the Llama Materials or any output or results of the Llama Materials to improve any other large language model (excluding Llama 2 or derivative works thereof) (section 1.b.v); follow the use policy at https://ai.meta.com/llama/use-policy; redistribution includes a copy of the agreement.

### Attribution

Sources:

- ultrafeedback (https://example.org/data), MIT License
- magpie-llama3 (https://example.org/data), MIT License
- scraped (https://example.org/data), unknown

Notices to keep with the data:

> Meta Llama 3 is licensed under the Meta Llama 3 Community License, Copyright © Meta Platforms, Inc. All Rights Reserved.
>
> Llama 2 is licensed under the LLAMA 2 Community License, Copyright (c) Meta Platforms, Inc. All Rights Reserved.

### Naming requirements for models trained on this data

- Meta Llama 3 Community License Agreement: prominently display "Built with Meta Llama 3" on a related website, user interface, blogpost, about page or product documentation; an AI model created, trained, fine-tuned or improved with the Llama Materials and distributed must have "Llama 3" at the beginning of its name (section 1.b.i).
EOF
run "$A" -C "$S" audit
printf '%s\n' "$out" >"$T/got"
check "audit: exit 0" test "$rc" = 0
check "audit: no stderr" test -z "$err"
if cmp -s "$T/want" "$T/got"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: audit table"; diff "$T/want" "$T/got"; fi

# JSON: the same figures, machine-readable.
if command -v python3 >/dev/null; then
    "$A" -C "$S" audit --format json >"$T/a.json"
    check "json: exit 0" test $? = 0
    python3 - "$T/a.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
assert a["version"] == 2 and a["rows"] == 6, a
combos = {" + ".join(c["licences"]): c["rows"] for c in a["combinations"]}
assert combos == {"acme-weird + unknown": 1, "apache-2.0 + llama3 + mit + unknown": 1,
                  "apache-2.0 + mit + openai-terms": 1, "llama2 + mit + openai-terms": 1,
                  "llama3 + mit + unknown": 1, "mit + openai-terms": 1}, combos
lic = {l["id"]: l for l in a["licences"]}
assert lic["llama3"]["properties"] == ["limited-commercial", "attribution", "naming", "output-restriction", "use-policy"], lic["llama3"]
assert lic["acme-weird"]["known"] is False
assert a["unknown"]["rows"] == 3 and len(a["unknown"]["items"]) == 3
models = {m["name"]: m for m in a["models"]}
assert models["gpt-4"]["roles"] == ["judge"] and models["gpt-4"]["rows"] == 2
assert models["meta-llama/Meta-Llama-3-70B-Instruct"]["roles"] == ["generator", "writer"]
assert a["obligations"].startswith("## Licence\n")
assert "policy" not in a
PY
    check "json: figures" test $? = 0
fi

# Selections.
run "$A" -C "$S" audit --where 'source = "magpie-llama3"'
check "--where: 2 rows" has "$out" "2 rows at version 2"
run "$A" -C "$S" audit --kind prompt
check "--kind prompt: 3 rows" has "$out" "3 rows at version 2"
check "--kind prompt: a prompt alone carries its source" has "$out" "  mit                        1"
run "$A" -C "$S" audit --at 1
check "--at 1: Llama 2 model still under llama3" has "$out" "  llama3 + mit + openai-terms             1"
check "--at 1: version" has "$out" "6 rows at version 1"
run "$A" -C "$S" audit --where 'kind = '
check "bad --where: exit 1" test "$rc" = 1
check "bad --where: message" has "$err" "aviary: "

# Policies.
run "$A" -C "$S" audit --policy "$P/no-openai.json"
check "no-openai: exit 1" test "$rc" = 1
check "no-openai: stderr" test "$err" = "aviary: 3 of 6 rows violate policy 'no OpenAI outputs'"
check "no-openai: header" has "$out" "policy 'no OpenAI outputs': 3 violating rows"
check "no-openai: r1a" has "$out" "  b991cd3ecbde19def705e6332437343e  licence 'openai-terms' is denied"
check "no-openai: r1b" has "$out" "  417a4a07549ec979b90286b38a7ea343  licence 'openai-terms' is denied"
check "no-openai: r4" has "$out" "  513fdc7ac834978f4b570241b31d826a  licence 'openai-terms' is denied"

run "$A" -C "$S" audit --policy "$P/commercial.json"
check "commercial: exit 1" test "$rc" = 1
check "commercial: all 6 rows" test "$err" = "aviary: 6 of 6 rows violate policy 'commercial release'"
check "commercial: unknown with its reason" has "$out" "  c2e8c449f44a0acf2c3577dd1b50abae  licence 'llama3' restricts training models with its outputs (property 'output-restriction' is denied); lineage has an unknown licence or model (model 'mystery-judge' has no licence)"
check "commercial: not in the registry" has "$out" "licence 'acme-weird' is not in the registry"

run "$A" -C "$S" audit --policy "$P/permissive.json" --where 'source = "ultrafeedback"' --format json
check "permissive json: exit 1" test "$rc" = 1
check "permissive json: violations" has "$out" "\"policy\":{\"name\":\"permissive only\",\"violations\":{\"rows\":3,"

printf '{"unknown": "allow", "licences": {"deny": ["cc-by-nc-4.0"]}}\n' >"$T/ok.json"
run "$A" -C "$S" audit --policy "$T/ok.json"
check "clean policy: exit 0" test "$rc" = 0
check "clean policy: none" has "$out" "policy '$T/ok.json': 0 violating rows"

run "$A" -C "$S" audit --policy "$P/bad-licence.json"
golden "bad licence in policy" 1 "" "aviary: $P/bad-licence.json:6: 'mti' is not a known licence (see 'aviary licence list')"
run "$A" -C "$S" audit --policy "$P/bad-syntax.json"
golden "bad JSON in policy" 1 "" "aviary: $P/bad-syntax.json:3: not valid JSON"
run "$A" -C "$S" audit --policy "$T/missing.json"
check "missing policy: exit 1" test "$rc" = 1
check "missing policy: message" has "$err" "aviary: cannot read '$T/missing.json'"

run "$A" -C "$S" audit --format yaml
check "bad format: usage" test "$rc" = 2
run "$A" -C "$S" audit --kind model
check "bad kind: usage" test "$rc" = 2
run "$A" -C "$S" audit --help
check "--help" has "$out" "usage: aviary audit [--where <expr>]"

finish
