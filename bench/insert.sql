-- Insert into a table without a primary key (no conflicts between clients).
\set v random(1, 1000000000)
INSERT INTO bench_inserts (client, v) VALUES (:client_id, :v);
