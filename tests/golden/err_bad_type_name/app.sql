CREATE STREAM Trades (symbol STRNG, price DOUBLE, volume INT);
