-- ORDER BY / LIMIT / OFFSET over a join apply to the rows one arrival produces (one emission),
-- after WHERE.
CREATE STREAM A (k INT, a STRING);
CREATE STREAM B (k INT, b STRING, w INT);
INSERT INTO Out SELECT x.a, y.b, y.w
FROM A AS x JOIN B WINDOW('length', 10) AS y ON x.k = y.k
WHERE y.w > 0
ORDER BY y.w DESC
LIMIT 2 OFFSET 1;
