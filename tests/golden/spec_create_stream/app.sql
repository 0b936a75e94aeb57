CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);
