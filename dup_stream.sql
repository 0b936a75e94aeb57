CREATE STREAM Trades (symbol STRING, price DOUBLE);
DEFINE STREAM Trades (symbol STRING);
