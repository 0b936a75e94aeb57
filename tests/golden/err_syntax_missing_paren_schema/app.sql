CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT;
INSERT INTO Out SELECT price FROM Trades;
