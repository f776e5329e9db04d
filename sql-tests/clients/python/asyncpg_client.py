"""asyncpg against a PostgreSQL-compatible server: prints one line per check.

Usage: python3 asyncpg_client.py HOST PORT. asyncpg always uses the extended protocol with
binary formats and named prepared statements, so this exercises those paths. The output must be
identical on sledgres and on PostgreSQL 15 (the expected file was produced by PostgreSQL).
"""
import asyncio
import sys
from decimal import Decimal

import asyncpg

host, port = sys.argv[1], int(sys.argv[2])


async def main():
    c = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    print("server version major:", c.get_server_version().major)
    await c.execute("DROP TABLE IF EXISTS apg_items")
    await c.execute(
        "CREATE TABLE apg_items (id integer PRIMARY KEY, name text NOT NULL,"
        " price numeric(10,2), ok boolean, ratio double precision, qty bigint, small smallint,"
        " r real)"
    )
    await c.executemany(
        "INSERT INTO apg_items VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [(i, f"n{i}", Decimal(i) / 8, i % 3 == 0, i / 16, i * 10**10, i, i / 2) for i in range(1, 21)],
    )
    rows = await c.fetch("SELECT * FROM apg_items WHERE id <= $1 ORDER BY id", 3)
    for r in rows:
        print("row:", tuple(r))
    print("fetchval:", await c.fetchval("SELECT sum(qty) FROM apg_items"))
    print("fetchrow:", tuple(await c.fetchrow("SELECT count(*), min(price), max(ratio) FROM apg_items")))
    print("null param:", await c.fetchval("SELECT $1::text IS NULL", None))
    print("numeric math:", await c.fetchval("SELECT $1::numeric * 3", Decimal("1.10")))

    stmt = await c.prepare("SELECT name FROM apg_items WHERE id = $1")
    print("prepared types:", [(a.name, a.kind) for a in stmt.get_parameters()])
    print("prepared columns:", [(a.name, a.type.name) for a in stmt.get_attributes()])
    print("prepared runs:", [await stmt.fetchval(i) for i in (1, 5, 9)])

    for sql, exc in [
        ("INSERT INTO apg_items (id, name) VALUES (1, 'dup')", asyncpg.UniqueViolationError),
        ("INSERT INTO apg_items (id) VALUES (100)", asyncpg.NotNullViolationError),
        ("SELECT * FROM apg_nosuch", asyncpg.UndefinedTableError),
        ("SELECT 2147483647::integer + 1", asyncpg.NumericValueOutOfRangeError),
    ]:
        try:
            await c.execute(sql)
        except exc as e:
            print("error:", e.sqlstate, e.args[0])

    async with c.transaction(isolation="repeatable_read"):
        print("isolation:", await c.fetchval("SHOW transaction_isolation"))
        await c.execute("UPDATE apg_items SET qty = 0 WHERE id = 1")
    try:
        async with c.transaction():
            await c.execute("UPDATE apg_items SET qty = -1 WHERE id = 2")
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    print("after transactions:", await c.fetch("SELECT id, qty FROM apg_items WHERE id <= 2 ORDER BY id"))

    # A cursor over a larger result (portal with a row limit, resumed).
    async with c.transaction():
        n = 0
        async for r in c.cursor("SELECT a.id, b.id FROM apg_items a, apg_items b", prefetch=50):
            n += 1
        print("cursor rows:", n)

    await c.execute("DROP TABLE apg_items")
    await c.close()
    print("done")


asyncio.run(main())
