// pq_rows.mjs: prints a Parquet file's rows as JSON Lines.
// usage: node pq_rows.mjs duckdb|hyparquet FILE [--meta]
// --meta prints the key-value metadata as one JSON object instead.
import { readDuckdb, readHyparquet } from './readers.mjs';

const [reader, path, flag] = process.argv.slice(2);
if (!path || !['duckdb', 'hyparquet'].includes(reader)) {
  process.stderr.write('usage: node pq_rows.mjs duckdb|hyparquet FILE [--meta]\n');
  process.exit(2);
}
try {
  const out = reader === 'duckdb' ? await readDuckdb(path) : await readHyparquet(path);
  if (flag === '--meta') process.stdout.write(JSON.stringify(out.meta) + '\n');
  else for (const r of out.rows) process.stdout.write(JSON.stringify(r) + '\n');
} catch (e) {
  process.stderr.write(`pq_rows: ${reader}: ${path}: ${e.message}\n`);
  process.exit(1);
}
