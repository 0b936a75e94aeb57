-- A sliding (hop) window on a join side: at each window end that window's events arrive (and
-- probe the other side); the side then holds them until the next window replaces them.
CREATE STREAM A (k INT, a STRING);
CREATE STREAM B (k INT, b STRING);
INSERT INTO Out SELECT x.a, y.b
FROM A WINDOW('hop', 2 sec, 1 sec) AS x JOIN B WINDOW('length', 10) AS y ON x.k = y.k;
