CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);
INSERT INTO Out SELECT abs(price AS p FROM Trades;
