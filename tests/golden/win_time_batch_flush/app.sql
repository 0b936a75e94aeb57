CREATE STREAM S (id STRING, x INT);
INSERT INTO TB SELECT count() AS c, sum(x) AS total FROM S WINDOW('timeBatch', 1 sec);
INSERT INTO SE SELECT id, count() AS c FROM S WINDOW('session', 5 sec, id);
