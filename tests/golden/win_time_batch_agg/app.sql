CREATE STREAM S (id STRING, x INT);
INSERT INTO Out SELECT id, count() AS c, sum(x) AS total FROM S WINDOW('timeBatch', 1 sec);
