-- WHERE, GROUP BY and aggregates over join rows work as for any query without a window: they
-- run over every join row so far (joins emit only arrivals, never retractions).
CREATE STREAM Trades (symbol STRING, qty INT);
CREATE STREAM Sectors (symbol STRING, sector STRING);
INSERT INTO Volume
SELECT s.sector, sum(t.qty) AS total, count() AS n
FROM Trades AS t JOIN Sectors WINDOW('unique', symbol) AS s ON t.symbol = s.symbol
WHERE t.qty > 0
GROUP BY s.sector
HAVING total > 5;
