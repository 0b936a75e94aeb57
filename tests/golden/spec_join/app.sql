CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);
CREATE STREAM News (symbol STRING, headline STRING);
INSERT INTO Out
SELECT t.symbol, t.price, n.headline
FROM Trades WINDOW('time', 1 min) AS t
     LEFT OUTER JOIN News WINDOW('length', 100) AS n ON t.symbol = n.symbol
WHERE t.price > 10;
