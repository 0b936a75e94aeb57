CREATE STREAM S (x INT);
INSERT INTO Out SELECT x % 3 AS r, count() AS c, sum(x) AS total FROM S GROUP BY x % 3;
