-- Table writes inside PARTITION: the table is shared by every key; a write runs for the events
-- the partition routes (a range partition drops events outside its ranges).
CREATE TABLE Balances (user STRING PRIMARY KEY, total DOUBLE);
CREATE STREAM Pay (user STRING, amount DOUBLE);
CREATE STREAM Reset (user STRING, region STRING);
CREATE STREAM Ask (user STRING);
PARTITION WITH (user OF Pay) BEGIN
  UPSERT INTO Balances SELECT user, sum(amount) AS total FROM Pay;
END;
PARTITION WITH (region == 'eu' AS 'eu' OF Reset) BEGIN
  DELETE FROM Balances USING Reset AS r ON Balances.user = r.user;
  UPDATE Balances SET total = -1.0 FROM Reset AS r ON Balances.user = r.user;
END;
INSERT INTO Out SELECT a.user, b.total FROM Ask AS a LEFT JOIN Balances AS b ON a.user = b.user;
