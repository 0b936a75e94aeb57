CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);
INSERT INTO Trades SELECT symbol, price, volume FROM Trades WHERE price > 1.0;
