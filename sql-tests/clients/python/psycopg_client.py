"""psycopg 3 against a PostgreSQL-compatible server: prints one line per check.

Usage: python3 psycopg_client.py HOST PORT. The output must be identical on sledgres and on
PostgreSQL 15 (the expected file was produced by PostgreSQL).
"""
import sys
from decimal import Decimal

import psycopg
from psycopg import errors

host, port = sys.argv[1], int(sys.argv[2])
dsn = f"host={host} port={port} user=postgres dbname=postgres"

with psycopg.connect(dsn) as conn:
    print("server_version_num >= 150000:", conn.info.server_version >= 150000)
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS psy_items")
    cur.execute(
        "CREATE TABLE psy_items (id integer PRIMARY KEY, name text NOT NULL,"
        " price numeric(10,2), ok boolean, ratio double precision, qty bigint)"
    )
    conn.commit()

    # Parameters of every basic type, one row and many rows (executemany prepares the
    # statement and, after enough uses, psycopg switches to a named prepared statement).
    cur.execute(
        "INSERT INTO psy_items VALUES (%s, %s, %s, %s, %s, %s)",
        (1, "apple", Decimal("1.50"), True, 0.25, 10),
    )
    cur.executemany(
        "INSERT INTO psy_items VALUES (%s, %s, %s, %s, %s, %s)",
        [(i, f"item{i}", Decimal(i) / 4, i % 2 == 0, i / 8, i * 1000) for i in range(2, 30)],
    )
    conn.commit()
    print("rowcount after executemany:", cur.rowcount)

    cur.execute("SELECT * FROM psy_items WHERE id <= %s ORDER BY id", (3,))
    print("description:", [(d.name, d.type_code) for d in cur.description])
    for row in cur.fetchall():
        print("row:", row)

    cur.execute("SELECT count(*), sum(price), avg(qty), max(name) FROM psy_items")
    print("aggregates:", cur.fetchone())

    cur.execute("SELECT NULL::integer, %s::text, %s::integer IS NULL", (None, None))
    print("nulls:", cur.fetchone())

    # The same query repeated: prepared after psycopg's threshold (5 by default).
    for _ in range(7):
        cur.execute("SELECT name FROM psy_items WHERE id = %s", (7,))
    print("prepared repeat:", cur.fetchone())

    # Binary results.
    bcur = conn.cursor(binary=True)
    bcur.execute("SELECT id, name, price, ok, ratio, qty FROM psy_items WHERE id = %s", (4,))
    print("binary:", bcur.fetchone())

    # Errors carry their SQLSTATE; the transaction is then aborted until rollback.
    try:
        cur.execute("INSERT INTO psy_items VALUES (1, 'dup', 0, true, 0, 0)")
    except errors.UniqueViolation as e:
        print("unique violation:", e.sqlstate)
    try:
        cur.execute("SELECT 1")
    except errors.InFailedSqlTransaction as e:
        print("in failed transaction:", e.sqlstate)
    conn.rollback()
    for sql, exc in [
        ("SELECT * FROM psy_nosuch", errors.UndefinedTable),
        ("SELECT nosuch FROM psy_items", errors.UndefinedColumn),
        ("SELECT 1/0", errors.DivisionByZero),
        ("SELEC 1", errors.SyntaxError),
        ("SELECT 'x'::integer", errors.InvalidTextRepresentation),
    ]:
        try:
            cur.execute(sql)
        except exc as e:
            print("error:", e.sqlstate, e.diag.message_primary)
        conn.rollback()

    # Transactions: rollback discards, commit keeps.
    cur.execute("UPDATE psy_items SET price = price * 2 WHERE id = 1")
    conn.rollback()
    cur.execute("SELECT price FROM psy_items WHERE id = 1")
    print("after rollback:", cur.fetchone())
    with conn.transaction():
        cur.execute("UPDATE psy_items SET price = price * 2 WHERE id = 1")
    cur.execute("SELECT price FROM psy_items WHERE id = 1")
    print("after commit:", cur.fetchone())
    conn.commit()

    # Isolation level chosen by the driver.
    conn.isolation_level = psycopg.IsolationLevel.SERIALIZABLE
    cur.execute("SHOW transaction_isolation")
    print("isolation:", cur.fetchone())
    conn.commit()
    conn.isolation_level = None

    # A larger result, streamed with a server-side fetch loop on the client.
    cur.execute(
        "SELECT a.id * 100 + b.id FROM psy_items a, psy_items b ORDER BY 1"
    )
    n = 0
    total = 0
    while True:
        rows = cur.fetchmany(100)
        if not rows:
            break
        n += len(rows)
        total += sum(r[0] for r in rows)
    print("streamed rows:", n, "sum:", total)

    cur.execute("DROP TABLE psy_items")
    conn.commit()

# Autocommit connection.
with psycopg.connect(dsn, autocommit=True) as conn:
    print("autocommit select:", conn.execute("SELECT 1 + 1").fetchone())
print("done")
