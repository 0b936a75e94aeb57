CREATE STREAM Txn (card STRING, amount DOUBLE);
INSERT INTO Alerts
SELECT e1.card AS card, count(e1) AS probes, e2.amount AS big
FROM PATTERN (EVERY e1=Txn[amount < 1.0]{2,} -> e2=Txn[card = e1.card AND amount > 500.0]
              -> NOT Txn[card = e1.card] FOR 1 min)
WITHIN 10 MINUTES;
