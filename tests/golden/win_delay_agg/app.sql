CREATE STREAM S (x INT);
INSERT INTO Out SELECT x, count() AS c, sum(x) AS total FROM S WINDOW('delay', 500 ms);
