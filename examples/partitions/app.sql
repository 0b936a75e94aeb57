-- Each card keeps its own sliding window: an alert when a card's last 3 payments exceed 1000.
CREATE STREAM Payments (card STRING, amount DOUBLE);

PARTITION WITH (card OF Payments)
BEGIN
  INSERT INTO Alerts
  SELECT card, sum(amount) AS total, count() AS payments
  FROM Payments WINDOW('length', 3)
  HAVING total > 1000;
END WITH ('purge.idle' = '1 hour');
