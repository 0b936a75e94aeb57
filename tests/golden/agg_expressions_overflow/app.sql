CREATE STREAM S (l LONG, x INT);
INSERT INTO Out
SELECT sum(l) AS sl, sum(x * 2) AS s2, sum(x) / count() AS idiv, avg(x) + 1 AS a1, max(x) - min(x) AS spread
FROM S;
