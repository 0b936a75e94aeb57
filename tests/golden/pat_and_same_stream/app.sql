CREATE STREAM A (id STRING, v INT);
CREATE STREAM B (id STRING, v INT);
CREATE STREAM C (id STRING, v INT);

-- one event cannot bind both sides of the AND, although it passes both filters
INSERT INTO Out
SELECT e1.id AS a, e2.id AS b
FROM PATTERN (e1=A[v > 0] AND e2=A[v > 10]);
