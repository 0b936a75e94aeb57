CREATE STREAM Txn (card STRING, amount DOUBLE);
PARTITION WITH (card OF Txn)
BEGIN
  INSERT INTO Out
  SELECT e1.card AS card, e1.amount AS prev, e2.amount AS amount
  FROM PATTERN (EVERY e1=Txn -> e2=Txn[amount > e1.amount * 10.0]);
END;
