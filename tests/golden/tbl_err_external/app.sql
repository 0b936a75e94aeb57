CREATE STREAM Orders (id STRING, customer INT, name STRING);
CREATE TABLE A (id INT, name STRING) WITH (extension = 'postgres', "postgres.tabel" = 'x');
CREATE TABLE B (id INT, name STRING, PRIMARY KEY (id), INDEX (name)) WITH (extension = 'redis', "redis.url" = 'redis://x', "cache.policy" = 'MRU', "cache.ttl" = 'soon');
CREATE TABLE C (id INT, name STRING, PRIMARY KEY (id)) WITH (extension = 'mysql', "mysql.url" = 'mysql://root@127.0.0.1/test', 'error.strategy' = 'stream');
CREATE TABLE D (id INT, name STRING, PRIMARY KEY (id)) WITH (extension = 'mysql', "mysql.url" = 'mysql://root@127.0.0.1/test');
INSERT INTO O1 SELECT o.id, d.name FROM Orders AS o JOIN D AS d ON o.name = d.name;
INSERT INTO O2 SELECT o.id, d.name FROM Orders AS o RIGHT OUTER JOIN D AS d ON o.customer = d.id;
UPDATE D SET name = o.name FROM Orders AS o ON D.name = o.name;
DELETE FROM D USING Orders AS o ON D.id > o.customer;
