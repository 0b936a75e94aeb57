CREATE STREAM Trades (symbol STRING, price FLOAT, volume INT);
CREATE STREAM Out (symbol STRING, price DOUBLE, volume LONG);
INSERT INTO Out SELECT symbol, price, volume FROM Trades;
