CREATE STREAM S (sym STRING, x INT, tag STRING);
INSERT INTO Out SELECT sym, tag, count() AS c, sum(x) AS total FROM S WINDOW('lengthBatch', 5) GROUP BY sym;
