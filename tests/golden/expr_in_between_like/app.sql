CREATE STREAM S (s STRING, x INT);
INSERT INTO Out
SELECT s, x,
       x IN (1, 2, 3) AS in_,
       x NOT IN (1, 2, 3) AS notin,
       x IN (1, NULL) AS in_null,
       x NOT IN (1, NULL) AS notin_null,
       x BETWEEN 2 AND 4 AS btw,
       x NOT BETWEEN 2 AND 4 AS notbtw,
       s LIKE 'ab%' AS like_pct,
       s LIKE '_b_' AS like_us,
       s NOT LIKE '%c' AS notlike,
       s IN ('abc', 'xyz') AS sin
FROM S;
