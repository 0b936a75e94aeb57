CREATE STREAM S (x INT, a STRING, b STRING, p BOOL, q BOOL);
INSERT INTO Out
SELECT 2 + 3 * 4 AS m1, 10 - 2 - 3 AS m2, 100 / 10 / 5 AS m3, -x * 2 AS m4, 7 - -x AS m5, 17 % 5 * 2 AS m6,
       a || 1 + 2 AS c1, a || b = 'xy' AS c2,
       p OR q AND FALSE AS l1, NOT p AND q AS l2, NOT p OR q AS l3,
       x + 1 BETWEEN 2 AND 3 AS b1, x * 2 IN (2, 4) AS i1, a || b LIKE 'x%' AS k1
FROM S;
