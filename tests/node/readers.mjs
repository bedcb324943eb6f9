// readers.mjs: reads a Parquet file's rows with two independent readers
// (DuckDB and hyparquet) into plain JSON values, for aviary's export tests.
// INT64 values come back as BigInt from both; they are turned into Numbers
// when exact (JSON's own limit), otherwise into decimal strings.
import { DuckDBInstance } from '@duckdb/node-api';
import { asyncBufferFromFile, parquetReadObjects, parquetMetadataAsync } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

export function plain(v) {
  if (typeof v === 'bigint') {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  }
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  if (v !== null && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = plain(x);
    return o;
  }
  return v === undefined ? null : v;
}

export async function readDuckdb(path) {
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  const esc = path.replaceAll("'", "''");
  const res = await con.runAndReadAll(`SELECT * FROM read_parquet('${esc}')`);
  const rows = res.getRowObjectsJS().map(plain);
  const kv = await con.runAndReadAll(`SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata('${esc}')`);
  const meta = {};
  for (const r of kv.getRowObjectsJS()) meta[r.key] = r.value;
  con.closeSync?.();
  return { rows, meta };
}

export async function readHyparquet(path) {
  const file = await asyncBufferFromFile(path);
  const rows = (await parquetReadObjects({ file, compressors })).map(plain);
  const md = await parquetMetadataAsync(file);
  const meta = {};
  for (const kv of md.key_value_metadata || []) meta[kv.key] = kv.value;
  return { rows, meta, metadata: md };
}
