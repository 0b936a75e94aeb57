CREATE STREAM X (k STRING, id STRING, v INT);
CREATE STREAM A (k STRING, id STRING, v INT);
CREATE STREAM B (k STRING, id STRING, v INT);

PARTITION WITH (k OF X, k OF A, k OF B)
BEGIN
  INSERT INTO Out
  SELECT e0.k AS k, count(e1) AS n, e1[0].id AS first_a, sum(e1.v) AS total, e2.id AS b
  FROM PATTERN (e0=X -> e1=A* -> e2=B);
END;
