// node-postgres (pg) against a PostgreSQL-compatible server: prints one line per check.
// Usage: node pg_client.js HOST PORT. The output must be identical on sledgres and on
// PostgreSQL 15 (the expected file was produced by PostgreSQL).
'use strict';
const { Client } = require('pg');

async function main() {
  const [host, port] = [process.argv[2], Number(process.argv[3])];
  const c = new Client({ host, port, user: 'postgres', database: 'postgres' });
  await c.connect();
  await c.query('DROP TABLE IF EXISTS node_items');
  let r = await c.query(
    'CREATE TABLE node_items (id integer PRIMARY KEY, name text NOT NULL, price numeric(10,2),' +
      ' ok boolean, ratio double precision, qty bigint)');
  console.log('create:', r.command);
  r = await c.query(
    'INSERT INTO node_items VALUES ($1, $2, $3, $4, $5, $6), ($7, $8, $9, $10, $11, $12)',
    [1, 'one', '1.5', true, 0.5, '10', 2, 'two', '2.25', false, 1.5, '20']);
  console.log('insert:', r.command, r.rowCount);
  for (let i = 3; i <= 20; i++) {
    // A named statement: parsed once, then only bound and executed.
    await c.query({ name: 'ins', text: 'INSERT INTO node_items VALUES ($1, $2, $3, $4, $5, $6)',
      values: [i, 'n' + i, i / 4, i % 2 === 0, i / 8, i * 100] });
  }
  r = await c.query('SELECT * FROM node_items WHERE id <= $1 ORDER BY id', [3]);
  console.log('fields:', JSON.stringify(r.fields.map((f) => [f.name, f.dataTypeID])));
  console.log('rows:', JSON.stringify(r.rows));
  r = await c.query('SELECT count(*) AS n, sum(price) AS total, avg(ratio) AS mean FROM node_items');
  console.log('aggregates:', JSON.stringify(r.rows));
  r = await c.query({ text: 'SELECT id, name FROM node_items WHERE id IN (4, 5) ORDER BY id', rowMode: 'array' });
  console.log('array rows:', JSON.stringify(r.rows));

  for (const sql of ["INSERT INTO node_items (id, name) VALUES (1, 'x')", 'SELECT * FROM node_nosuch',
    'SELECT 1/0', 'SELEC 1']) {
    try {
      await c.query(sql);
    } catch (e) {
      console.log('error:', e.code, e.message, e.position === undefined ? '' : 'at ' + e.position);
    }
  }
  await c.query('BEGIN');
  await c.query('UPDATE node_items SET qty = 0 WHERE id = 1');
  try {
    await c.query('SELECT nosuch FROM node_items');
  } catch (e) {
    console.log('error in block:', e.code);
  }
  try {
    await c.query('SELECT 1');
  } catch (e) {
    console.log('aborted block:', e.code);
  }
  r = await c.query('COMMIT');
  console.log('commit of failed block:', r.command);
  r = await c.query('SELECT qty FROM node_items WHERE id = 1');
  console.log('qty after failed block:', JSON.stringify(r.rows));
  await c.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
  r = await c.query('SHOW transaction_isolation');
  console.log('isolation:', JSON.stringify(r.rows));
  await c.query('COMMIT');
  await c.query('DROP TABLE node_items');
  await c.end();
  console.log('done');
}

main().catch((e) => {
  console.log('FAILED:', e.code, e.message);
  process.exit(1);
});
