-- A firstUnique window on a join side: only the first event of each value arrives (and probes
-- the other side); the side holds those first events.
CREATE STREAM A (k INT, a STRING);
CREATE STREAM B (k INT, b STRING);
INSERT INTO Out SELECT x.a, y.b
FROM A WINDOW('firstUnique', k) AS x JOIN B WINDOW('length', 10) AS y ON x.k = y.k;
