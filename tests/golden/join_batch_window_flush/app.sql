-- --flush closes the open batch of a join side: its events arrive then.
-- A batch window on a join side: its events arrive (and probe) when the batch closes, and the
-- side then holds that batch until the next one replaces it.
CREATE STREAM A (k INT, a STRING);
CREATE STREAM B (k INT, b STRING);
INSERT INTO Out SELECT x.a, y.b
FROM A WINDOW('lengthBatch', 2) AS x JOIN B WINDOW('length', 5) AS y ON x.k = y.k;
