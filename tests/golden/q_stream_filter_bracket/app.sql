CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);
INSERT INTO Out SELECT symbol, volume FROM Trades[price > 50.0] WHERE volume > 1;
INSERT INTO Cheap SELECT t.symbol FROM Trades[price <= 50.0] AS t;
