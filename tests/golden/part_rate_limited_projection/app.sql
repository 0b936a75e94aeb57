-- Partition keys read the query's input rows even when the projection drops the key column
-- ahead of output rate limiting (which runs per key).
CREATE STREAM S (sym STRING, price DOUBLE, flag BOOL);

PARTITION WITH (sym OF S)
BEGIN
  INSERT INTO Out SELECT price FROM S WHERE price > 0.0 OUTPUT FIRST EVERY 2 EVENTS;
END;
