CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);
INSERT INTO Out SELECT * FROM Trades WHERE volume > 5;
INSERT INTO Renamed SELECT symbol AS sym, price AS p, volume FROM Trades WHERE volume <= 5;
