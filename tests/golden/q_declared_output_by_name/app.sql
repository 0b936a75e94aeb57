CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);
-- matched by name: the declared order wins in the output
CREATE STREAM Out (volume LONG, symbol STRING);
INSERT INTO Out SELECT symbol, volume FROM Trades;
