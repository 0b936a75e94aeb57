CREATE STREAM A (id STRING, v INT);
CREATE STREAM B (id STRING, v INT);
CREATE STREAM C (id STRING, v INT);

-- PATTERN is relaxed: events that do not match the next expected step are ignored.
INSERT INTO Out
SELECT e1.id AS a, e2.id AS b, e3.id AS c
FROM PATTERN (e1=A -> e2=B[v > 0] -> e3=C);
