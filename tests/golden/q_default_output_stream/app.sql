CREATE STREAM Trades (symbol STRING, price DOUBLE);
SELECT symbol, price FROM Trades WHERE price > 50;
