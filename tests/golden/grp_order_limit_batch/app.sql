CREATE STREAM S (sym STRING, x INT);
INSERT INTO Out SELECT sym, sum(x) AS total FROM S WINDOW('timeBatch', 1 sec) GROUP BY sym ORDER BY total DESC LIMIT 2;
