-- IN Table in a join side's filter: tested when the event arrives, before the side's window.
CREATE TABLE Watchlist (symbol STRING, PRIMARY KEY (symbol));
CREATE STREAM Watch (symbol STRING);
CREATE STREAM Trades (symbol STRING, price DOUBLE);
CREATE STREAM News (symbol STRING, headline STRING);
INSERT INTO Watchlist SELECT symbol FROM Watch;
INSERT INTO Out SELECT t.symbol, t.price, n.headline
FROM Trades[symbol IN Watchlist] WINDOW('length', 5) AS t
     JOIN News[symbol NOT IN Watchlist OR headline = 'all'] WINDOW('length', 5) AS n ON t.symbol = n.symbol;
