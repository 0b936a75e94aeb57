CREATE STREAM S (id STRING, x INT);
INSERT ALL EVENTS INTO Out SELECT id, count() AS c, sum(x) AS total FROM S WINDOW('time', 1 sec);
