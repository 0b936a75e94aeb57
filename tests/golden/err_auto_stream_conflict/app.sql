CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);
INSERT INTO Out SELECT symbol, price * volume AS notional FROM Trades;
INSERT INTO Out SELECT symbol, price FROM Trades;
