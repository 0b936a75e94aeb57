-- x IN Table: true when the table has a row whose single-column primary key equals x; NULL when
-- x is NULL. Works in stream filters, WHERE, SELECT and over join rows.
CREATE TABLE Watchlist (symbol STRING, PRIMARY KEY (symbol));
CREATE STREAM Watch (symbol STRING);
CREATE STREAM Unwatch (symbol STRING);
CREATE STREAM Trades (symbol STRING, price DOUBLE);
INSERT INTO Watchlist SELECT symbol FROM Watch;
DELETE FROM Watchlist USING Unwatch AS u ON Watchlist.symbol = u.symbol;
INSERT INTO Watched SELECT symbol, price FROM Trades[symbol IN Watchlist];
INSERT INTO Flags SELECT symbol, symbol IN Watchlist AS watched, symbol NOT IN Watchlist AS other
FROM Trades WHERE price > 1.0;
