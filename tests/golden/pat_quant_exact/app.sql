CREATE STREAM A (id STRING, v INT);
CREATE STREAM B (id STRING, v INT);
CREATE STREAM C (id STRING, v INT);

INSERT INTO Out
SELECT e1[0].id AS first_a, e1[last].id AS last_a, count(e1) AS n, e2.id AS b
FROM PATTERN (e1=A{3} -> e2=B);
