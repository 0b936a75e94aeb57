-- A session window on a join side: when a session closes its events arrive (and probe the other
-- side); the side then holds that session until the next closed session (of any key) replaces it.
CREATE STREAM A (k INT, a STRING);
CREATE STREAM B (k INT, b STRING);
INSERT INTO Out SELECT x.a, y.b
FROM A WINDOW('session', 1 sec, k) AS x JOIN B WINDOW('length', 10) AS y ON x.k = y.k;
