-- IN Table inside a PARTITION (evaluated on arrival, before the per-key window), and a pattern
-- writing its matches into a table.
CREATE TABLE VIP (card STRING, PRIMARY KEY (card));
CREATE TABLE Flagged (card STRING, amount DOUBLE, PRIMARY KEY (card));
CREATE STREAM AddVip (card STRING);
CREATE STREAM Payments (card STRING, amount DOUBLE);
CREATE STREAM Probe (card STRING);
INSERT INTO VIP SELECT card FROM AddVip;
PARTITION WITH (card OF Payments)
BEGIN
  INSERT INTO Sums SELECT card, sum(amount) AS total, card IN VIP AS vip FROM Payments[amount > 0] WINDOW('length', 2) WHERE card IN VIP OR amount > 100;
END;
INSERT INTO Flagged SELECT e2.card AS card, e2.amount AS amount FROM PATTERN (EVERY e1=Payments -> e2=Payments[card = e1.card AND amount > e1.amount * 2]);
INSERT INTO Seen SELECT p.card, f.amount FROM Probe AS p JOIN Flagged AS f ON f.card = p.card;
