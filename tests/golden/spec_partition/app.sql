CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);
CREATE STREAM Txn (card STRING, amount DOUBLE);
PARTITION WITH (symbol OF Trades, card OF Txn)
BEGIN
  INSERT INTO Out SELECT symbol, count() AS c FROM Trades WINDOW('length', 10);
  INSERT INTO Alerts SELECT e1.card AS card, e2.amount AS amount FROM PATTERN (EVERY e1=Txn -> e2=Txn[amount > e1.amount * 10]);
END;
