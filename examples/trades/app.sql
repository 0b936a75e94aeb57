-- Big trades: keep trades above 50 and compute their notional value.
CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);

@name('big-trades')
INSERT INTO BigTrades
SELECT symbol, price * volume AS notional
FROM Trades
WHERE price > 50;
