CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);
PARTITION WITH (price < 100 AS 'low' OR price >= 100 AS 'high' OF Trades)
BEGIN
  INSERT INTO Out SELECT symbol, count() AS c FROM Trades WINDOW('length', 10);
END WITH ('purge.idle' = '1 hour');
