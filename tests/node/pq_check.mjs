// pq_check.mjs: checks that Parquet files hold exactly the rows of a JSON
// Lines file, read by DuckDB and by hyparquet, and that each file carries the
// `huggingface` metadata with features naming every column.
// usage: node pq_check.mjs EXPECTED.jsonl FILE.parquet...
//        (the files' rows are concatenated in argument order), or
//        node pq_check.mjs --pairs A.jsonl A.parquet B.jsonl B.parquet ...
// Prints one line per reader and check, naming the first difference (row
// and path); exits 1 if any check failed.
import { readFileSync } from 'node:fs';
import { readDuckdb, readHyparquet } from './readers.mjs';

// JSON equality where a missing key equals null (Parquet has no "absent")
// and numbers compare by value (1.0 == 1).
function diff(a, b, path) {
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  if (a === null || b === null) return a === b ? null : `${path}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return `${path}: array vs non-array`;
    if (a.length !== b.length) return `${path}: length ${a.length} != ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = diff(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = diff(a[k], b[k], `${path}.${k}`);
      if (d) return d;
    }
    return null;
  }
  if (typeof a === 'number' && typeof b === 'number') return a === b || (isNaN(a) && isNaN(b)) ? null : `${path}: ${a} != ${b}`;
  return a === b ? null : `${path}: ${JSON.stringify(a).slice(0, 80)} != ${JSON.stringify(b).slice(0, 80)}`;
}

// Checks one JSON Lines file against its Parquet files; returns failures.
async function checkOne(expPath, files, label) {
  const expected = readFileSync(expPath, 'utf8').split('\n').filter((l) => l.length).map((l) => JSON.parse(l));
  let failed = 0;
  for (const [name, read] of [['duckdb', readDuckdb], ['hyparquet', readHyparquet]]) {
    const got = [];
    try {
      for (const f of files) {
        const { rows, meta } = await read(f);
        if (!meta.huggingface) throw new Error(`${f}: no huggingface metadata`);
        const feats = JSON.parse(meta.huggingface).info.features;
        for (const r of rows.slice(0, 1)) for (const k of Object.keys(r)) if (!(k in feats)) throw new Error(`${f}: column ${k} not in features`);
        got.push(...rows);
      }
    } catch (e) {
      console.log(`not ok ${name}${label}: ${e.message}`);
      failed++;
      continue;
    }
    let d = got.length === expected.length ? null : `row count ${got.length} != ${expected.length}`;
    for (let i = 0; !d && i < expected.length; i++) d = diff(got[i], expected[i], `row ${i}`);
    if (d) { console.log(`not ok ${name}${label}: ${d}`); failed++; }
    else console.log(`ok ${name}${label}: ${got.length} rows equal`);
  }
  return failed;
}

const args = process.argv.slice(2);
let failed = 0;
if (args[0] === '--pairs') {
  // --pairs A.jsonl A.parquet B.jsonl B.parquet ...: many checks, one process.
  if (args.length < 3 || args.length % 2 === 0) {
    process.stderr.write('usage: node pq_check.mjs --pairs EXPECTED.jsonl FILE.parquet...\n');
    process.exit(2);
  }
  for (let i = 1; i < args.length; i += 2) failed += await checkOne(args[i], [args[i + 1]], ` ${args[i + 1]}`);
} else {
  const [expPath, ...files] = args;
  if (!expPath || files.length === 0) {
    process.stderr.write('usage: node pq_check.mjs EXPECTED.jsonl FILE.parquet... | --pairs A.jsonl A.parquet ...\n');
    process.exit(2);
  }
  failed = await checkOne(expPath, files, '');
}
process.exit(failed ? 1 : 0);
