// duckdb_export.mjs: the DuckDB side of bench/export.sh. Loads a JSON Lines
// file into a table (not timed), then times the same exports aviary makes:
// the whole table to Parquet (ZSTD) and to JSON Lines, and the filtered
// selection to JSON Lines. Prints one "name seconds bytes runs..." line per
// export: the median of RUNS runs, then each run's time.
// usage: node duckdb_export.mjs INPUT.jsonl OUTDIR [RUNS]
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../tests/node/package.json'));
const { DuckDBInstance } = await import(require.resolve('@duckdb/node-api'));

const [input, out, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 3);
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
await con.run(`CREATE TABLE t AS SELECT * FROM read_json('${input}', format = 'newline_delimited')`);
const exports = [
  ['duckdb_parquet', `COPY t TO '${out}/duck.parquet' (FORMAT parquet, COMPRESSION zstd)`, 'duck.parquet'],
  ['duckdb_jsonl', `COPY t TO '${out}/duck.jsonl' (FORMAT json)`, 'duck.jsonl'],
  ['duckdb_filtered', `COPY (SELECT * FROM t WHERE task_category = 'Math' AND input_quality IN ('good', 'excellent')) TO '${out}/duck_f.jsonl' (FORMAT json)`, 'duck_f.jsonl'],
];
for (const [name, sql, file] of exports) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await con.run(sql);
    times.push((performance.now() - t0) / 1000);
  }
  const median = [...times].sort((a, b) => a - b)[(runs - 1) >> 1];
  console.log(`${name} ${median.toFixed(3)} ${statSync(`${out}/${file}`).size} ${times.map((t) => t.toFixed(2)).join(' ')}`);
}
