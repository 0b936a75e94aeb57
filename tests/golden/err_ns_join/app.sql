CREATE STREAM Trades (symbol STRING, price DOUBLE);
CREATE STREAM News (symbol STRING, headline STRING);
INSERT INTO Out
SELECT t.symbol, n.headline
FROM Trades AS t JOIN News AS n ON t.symbol = n.symbol;
