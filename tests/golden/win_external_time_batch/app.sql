CREATE STREAM S (id STRING, et LONG, x INT);
INSERT INTO Out SELECT id, count() AS c, sum(x) AS total FROM S WINDOW('externalTimeBatch', et, 1 sec);
