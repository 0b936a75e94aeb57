-- Per-symbol statistics: a one-second tumbling window and a sliding window of the last 3 trades.
CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);

@name('per-second')
INSERT INTO PerSecond
SELECT symbol, count() AS trades, avg(price) AS avg_price, sum(volume) AS volume
FROM Trades WINDOW TUMBLING(1 sec)
GROUP BY symbol
HAVING trades >= 2;

@name('last-three')
INSERT ALL EVENTS INTO LastThree
SELECT symbol, price, max(price) AS high
FROM Trades WINDOW('length', 3);
