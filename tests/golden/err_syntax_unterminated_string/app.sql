CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);
INSERT INTO Out SELECT symbol FROM Trades WHERE symbol = 'IBM;
INSERT INTO Out2 SELECT symbol FROM Trades;
