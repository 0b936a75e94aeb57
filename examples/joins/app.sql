-- Stream-stream join: each trade meets the news of the last minute about its symbol.
CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);
CREATE STREAM News (symbol STRING, headline STRING);

INSERT INTO TradesWithNews
SELECT t.symbol, t.price, n.headline
FROM Trades WINDOW('time', 1 min) AS t
     LEFT OUTER JOIN News WINDOW('time', 1 min) AS n ON t.symbol = n.symbol
WHERE t.price > 10;
