CREATE STREAM S (sym STRING, x INT);
PARTITION WITH (sym OF S)
BEGIN
  INSERT INTO Out SELECT sym, count() AS c FROM S;
END WITH ('purge.idel' = '1 hour');
