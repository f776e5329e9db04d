-- psql meta-commands against a small schema: server/tests/psql.rs compares the output with
-- PostgreSQL 15's (meta.expected). Nothing here may print OIDs, sizes or times that differ
-- between servers (\timing lines are dropped before comparing).
CREATE TABLE authors (
    id integer PRIMARY KEY,
    name varchar(100) NOT NULL UNIQUE,
    born date
);
CREATE TABLE books (
    id bigint PRIMARY KEY,
    author_id integer NOT NULL REFERENCES authors (id),
    title text NOT NULL,
    price numeric(10,2) DEFAULT 0,
    copies integer DEFAULT 1 CHECK (copies >= 0),
    available boolean DEFAULT true
);
CREATE INDEX books_title_idx ON books (title);
CREATE VIEW available_books AS SELECT id, title FROM books WHERE available;

\d
\d authors
\d books
\d+ books
\d+ authors
\d available_books
\d books_pkey
\d authors_name_key
\d books_title_idx
\d nosuch
\dt
\dt b*
\di
\dv
\ds
\dn
\df
\l postgres
\du postgres
\db
\dp
\dx
INSERT INTO authors VALUES (1, 'Ann', '1970-01-01'), (2, 'Bob', NULL);
\x
SELECT id, name, born FROM authors ORDER BY id;
\x
\timing on
SELECT count(*) AS n FROM authors;
\timing off
BEGIN;
INSERT INTO authors VALUES (3, 'Cy', NULL);
INSERT INTO authors VALUES (1, 'Dup', NULL);
SELECT 1;
COMMIT;
SELECT id FROM authors ORDER BY id;
\set ON_ERROR_STOP on
SELECT 1 / 0;
SELECT 'not reached';
