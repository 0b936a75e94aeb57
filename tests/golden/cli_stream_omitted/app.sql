CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);
INSERT INTO Mid SELECT symbol, price FROM Trades;
INSERT INTO Out SELECT symbol, price FROM Mid WHERE price > 1.0;
