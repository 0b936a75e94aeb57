CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);
CREATE STREAM Out (symbol STRING, price INT);
INSERT INTO Out SELECT symbol, price FROM Trades;
