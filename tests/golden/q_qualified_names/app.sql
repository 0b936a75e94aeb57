CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);
INSERT INTO ByName SELECT Trades.symbol, Trades.price * 2 AS dbl FROM Trades WHERE Trades.volume > 1;
INSERT INTO ByAlias SELECT t.symbol AS s, t.volume FROM Trades AS t WHERE t.price < 50.0;
