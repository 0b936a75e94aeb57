CREATE STREAM Txn (card STRING, amount DOUBLE);
INSERT INTO Alerts
SELECT e1.card AS card, e1.amount AS small, e2.amount AS big
FROM PATTERN (EVERY e1=Txn[amount < 1.0] -> e2=Txn[card = e1.card AND amount > 500.0])
WITHIN 10 MINUTES;
