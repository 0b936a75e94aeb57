-- A delay window on a join side: an event is held (the other side's arrivals find it) while it
-- waits; when its delay ends it leaves the side and probes the other side.
CREATE STREAM A (k INT, a STRING);
CREATE STREAM B (k INT, b STRING);
INSERT INTO Out SELECT x.a, y.b
FROM A WINDOW('delay', 1 sec) AS x JOIN B WINDOW('length', 10) AS y ON x.k = y.k;
