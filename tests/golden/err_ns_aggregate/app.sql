CREATE STREAM Trades (symbol STRING, price DOUBLE);
INSERT INTO Out SELECT count() AS n FROM Trades;
