CREATE STREAM Trades (symbol STRING, price DOUBLE);
PARTITION WITH (symbol OF Trades)
BEGIN
  INSERT INTO Out SELECT symbol, price FROM Trades;
END;
