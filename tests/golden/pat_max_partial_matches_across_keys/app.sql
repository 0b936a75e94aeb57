-- pattern.max_partial_matches bounds the whole query, not each partition key: three keys with
-- one partial match each exceed a bound of 2. The key that needs room drops its own oldest
-- match; a key holding none (k3 here) drops the new one. Both count.
CREATE STREAM A (k STRING, id STRING);
CREATE STREAM B (k STRING, id STRING);

PARTITION WITH (k OF A, k OF B)
BEGIN
  @option('pattern.max_partial_matches', '2')
  INSERT INTO Out
  SELECT e1.k AS k, e1.id AS a, e2.id AS b
  FROM PATTERN (EVERY e1=A -> e2=B);
END;
