CREATE STREAM Trades (symbol STRING, price DOUBLE);
INSERT INTO Out SELECT symbol, price FROM Trades;
