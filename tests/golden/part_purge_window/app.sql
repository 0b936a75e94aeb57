CREATE STREAM S (sym STRING, x INT);
PARTITION WITH (sym OF S)
BEGIN
  INSERT INTO Out SELECT sym, sum(x) AS total, count() AS c FROM S WINDOW('length', 3);
END WITH ('purge.idle' = '2 sec');
