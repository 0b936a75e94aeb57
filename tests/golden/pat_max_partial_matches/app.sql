CREATE STREAM A (id STRING, v INT);
CREATE STREAM B (id STRING, v INT);

@option('pattern.max_partial_matches', '2')
INSERT INTO Out
SELECT e1.id AS a, e2.id AS b
FROM PATTERN (EVERY e1=A -> e2=B);
