-- A query inside a PARTITION writes per-key aggregates into a table; writes are immediate, so
-- a query defined later sees them for the same event.
CREATE TABLE Totals (card STRING, total DOUBLE, PRIMARY KEY (card));
CREATE STREAM Payments (card STRING, amount DOUBLE);
CREATE STREAM Probe (card STRING);
PARTITION WITH (card OF Payments)
BEGIN
  INSERT INTO Totals SELECT card, sum(amount) AS total FROM Payments WINDOW('length', 2);
END;
INSERT INTO Seen SELECT p.card, t.total FROM Probe AS p JOIN Totals AS t ON p.card = t.card;
INSERT INTO Flag SELECT card FROM Payments[card IN Totals];
