-- `x IN Table` in pattern filters (elements and absences): tested against the table when the
-- event arrives, before the pattern sees it.
CREATE TABLE Stolen (card STRING PRIMARY KEY);
CREATE TABLE Trusted (merchant STRING PRIMARY KEY);
CREATE STREAM Report (card STRING);
CREATE STREAM Vouch (merchant STRING);
CREATE STREAM Txn (card STRING, merchant STRING, amount DOUBLE);
INSERT INTO Stolen SELECT card FROM Report;
INSERT INTO Trusted SELECT merchant FROM Vouch;
INSERT INTO Alerts
SELECT e1.card AS card, e2.merchant AS merchant, e2.amount AS amount
FROM PATTERN (EVERY e1=Txn[card IN Stolen] -> e2=Txn[card == e1.card AND NOT (merchant IN Trusted)]);
INSERT INTO Quiet
SELECT e1.card AS card
FROM PATTERN (EVERY e1=Txn[card IN Stolen] -> NOT Txn[card == e1.card AND merchant IN Trusted] FOR 1 sec);
