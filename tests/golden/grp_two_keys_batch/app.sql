CREATE STREAM S (region STRING, sym STRING, x INT);
INSERT INTO Out SELECT region, sym, count() AS c, sum(x) AS total FROM S WINDOW('lengthBatch', 5) GROUP BY region, sym;
