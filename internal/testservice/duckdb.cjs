// Runs one SQL query in DuckDB (npm @duckdb/node-api, installed by
// scripts/deps.sh) and prints the rows as a JSON array of objects: the
// outside reader tests check exported objects with (testservice.DuckDB).
// Usage: NODE_PATH=$HOME/.cache/penstock/duckdb/node_modules node duckdb.cjs 'SELECT ...'
const { DuckDBInstance } = require('@duckdb/node-api');

(async () => {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const result = await conn.runAndReadAll(process.argv[2]);
  process.stdout.write(JSON.stringify(result.getRowObjectsJson()));
})().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(1);
});
