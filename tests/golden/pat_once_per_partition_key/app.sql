CREATE STREAM Txn (card STRING, amount DOUBLE);
PARTITION WITH (card OF Txn)
BEGIN
  INSERT INTO Out
  SELECT e1.card AS card, e1.amount AS amount1, e2.amount AS amount2
  FROM PATTERN (e1=Txn -> e2=Txn[amount > e1.amount]);
END;
