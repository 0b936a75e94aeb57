CREATE STREAM S (x INT);
CREATE TRIGGER Tick AT EVERY 10 SEC;
INSERT INTO Out SELECT count() AS c, sum(x) AS total FROM S WINDOW('lengthBatch', 5);
INSERT INTO Ticks SELECT triggered_time FROM Tick;
