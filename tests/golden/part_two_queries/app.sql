CREATE STREAM S (sym STRING, x INT);
PARTITION WITH (sym OF S)
BEGIN
  INSERT INTO Counts SELECT sym, count() AS c FROM S;
  INSERT INTO Batches SELECT sym, sum(x) AS total FROM S WINDOW('lengthBatch', 2);
END;
