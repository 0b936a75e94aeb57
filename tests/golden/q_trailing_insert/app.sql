CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);
SELECT symbol, price FROM Trades WHERE price > 50 INSERT INTO Out;
