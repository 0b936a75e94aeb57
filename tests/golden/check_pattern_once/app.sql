CREATE STREAM Txn (card STRING, amount DOUBLE);
INSERT INTO Alerts
SELECT e1.card AS card, e2.amount AS big
FROM PATTERN (e1=Txn[amount < 1.0] -> e2=Txn[card = e1.card AND amount > 500.0]);
