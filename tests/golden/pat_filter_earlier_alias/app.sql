CREATE STREAM A (id STRING, v INT);
CREATE STREAM B (id STRING, v INT);
CREATE STREAM C (id STRING, v INT);

INSERT INTO Out
SELECT e1.id AS id, e2.v AS bv, e3.v AS cv
FROM PATTERN (EVERY e1=A -> e2=B[id = e1.id AND v > e1.v] -> e3=C[v > e1.v + e2.v]);
