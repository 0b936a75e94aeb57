-- A key purged by purge.idle takes its partial matches out of the query's count: after k1 is
-- purged, k2 and k3 each fit under a bound of 2 and nothing is dropped.
CREATE STREAM A (k STRING, id STRING);
CREATE STREAM B (k STRING, id STRING);

PARTITION WITH (k OF A, k OF B)
BEGIN
  @option('pattern.max_partial_matches', '2')
  INSERT INTO Out
  SELECT e1.k AS k, e1.id AS a, e2.id AS b
  FROM PATTERN (EVERY e1=A -> e2=B);
END WITH ('purge.idle' = '1 sec');
