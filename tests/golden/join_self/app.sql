-- Self-join: one stream on both sides under two aliases. An event reaches the sides in FROM
-- order: it is added to a's window and probes b (which does not hold it yet), then it is added
-- to b's window and probes a, where it meets itself.
CREATE STREAM Temps (room STRING, t DOUBLE);
INSERT INTO Pairs
SELECT a.room, a.t AS earlier, b.t AS later
FROM Temps WINDOW('length', 2) AS a JOIN Temps WINDOW('length', 2) AS b ON a.room = b.room;
