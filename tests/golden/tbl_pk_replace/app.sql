-- Inserting a row whose primary key exists replaces it in place: scans keep insertion order.
CREATE TABLE Prices (symbol STRING, price DOUBLE, PRIMARY KEY (symbol));
CREATE STREAM Ticks (symbol STRING, price DOUBLE);
CREATE STREAM Dump (n INT);
INSERT INTO Prices SELECT symbol, price FROM Ticks;
-- No ON: every row of the table, in scan order.
INSERT INTO Rows SELECT d.n, p.symbol, p.price FROM Dump AS d JOIN Prices AS p;
