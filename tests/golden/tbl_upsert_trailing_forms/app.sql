-- UPSERT INTO (insert or replace on key) and the trailing write forms of a query:
-- SELECT … UPDATE T SET … ON …, and SELECT … DELETE T ON … (bare names are the query output,
-- T.x the table's row).
CREATE TABLE Counters (name STRING, n LONG, PRIMARY KEY (name));
CREATE STREAM Sets (name STRING, n LONG);
CREATE STREAM Adds (name STRING, delta LONG);
CREATE STREAM Drops (name STRING);
CREATE STREAM Dump (k INT);
UPSERT INTO Counters SELECT name, n FROM Sets;
SELECT name, delta * 2 AS twice FROM Adds UPDATE Counters SET Counters.n = Counters.n + twice ON Counters.name = name;
SELECT upper(name) AS name FROM Drops DELETE Counters ON Counters.name = name;
INSERT INTO Rows SELECT d.k, c.name, c.n FROM Dump AS d JOIN Counters AS c;
