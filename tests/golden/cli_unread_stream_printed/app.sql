CREATE STREAM Trades (symbol STRING, price DOUBLE);
-- no query reads Audit and no sink consumes it: its rows go to stdout
CREATE STREAM Audit (note STRING);
INSERT INTO Out SELECT symbol FROM Trades;
