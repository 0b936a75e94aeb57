CREATE STREAM A (id STRING, v INT);
CREATE STREAM B (id STRING, v INT);
CREATE STREAM C (id STRING, v INT);

INSERT INTO Out
SELECT count(e1) AS n, e1[last].id AS last_a, e2.id AS next_a
FROM PATTERN (e1=A{2,3} -> e2=A);
