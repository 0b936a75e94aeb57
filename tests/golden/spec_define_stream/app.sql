DEFINE STREAM Trades (symbol STRING, price DOUBLE, volume INT);      -- same thing
