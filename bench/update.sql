-- Point update by primary key (autocommit: one transaction per update).
\set id random(1, :rows)
\set delta random(-5000, 5000)
UPDATE bench_accounts SET balance = balance + :delta WHERE id = :id;
