CREATE STREAM S (sym STRING, x INT);
PARTITION WITH (sym OF S)
BEGIN
  INSERT INTO Out SELECT sym, count() AS c, sum(x) AS total FROM S WINDOW('length', 2);
END;
