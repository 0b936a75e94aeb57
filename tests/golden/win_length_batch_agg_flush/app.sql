CREATE STREAM S (x INT);
INSERT INTO Out SELECT count() AS c, sum(x) AS total, avg(x) AS mean FROM S WINDOW lengthBatch(2);
