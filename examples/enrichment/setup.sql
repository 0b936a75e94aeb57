-- The PostgreSQL side of examples/enrichment (EventFlux never creates or alters a store's table).
DROP TABLE IF EXISTS example_customers;
CREATE TABLE example_customers (id INTEGER PRIMARY KEY, name TEXT, tier TEXT);
INSERT INTO example_customers VALUES (1, 'Ann', 'gold'), (2, 'Bob', 'silver'), (3, 'Cid', 'bronze');
