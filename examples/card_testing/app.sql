CREATE STREAM Txn (card STRING, merchant STRING, amount DOUBLE);
-- a tiny "probe" charge followed by a large one on the same card within 10 minutes
INSERT INTO CardTestingAlerts
SELECT e1.card AS card, e1.amount AS probe, e2.amount AS charge, e2.merchant AS merchant
FROM PATTERN (EVERY e1=Txn[amount < 1.0] -> e2=Txn[card = e1.card AND amount > 500.0])
WITHIN 10 MINUTES;
