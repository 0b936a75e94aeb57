CREATE STREAM S (sym STRING);
PARTITION WITH (sym OF S)
BEGIN
  INSERT INTO Out SELECT sym, count() AS c FROM S;
END WITH ('purge.idle' = '1 sec');
