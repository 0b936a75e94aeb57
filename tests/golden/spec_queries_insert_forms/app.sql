CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);
INSERT INTO Out SELECT symbol, price * volume AS notional FROM Trades WHERE price > 50;
INSERT ALL EVENTS INTO Out SELECT symbol, price * volume AS notional FROM Trades;     -- CURRENT (default) | EXPIRED | ALL
@name('big-trades') INSERT INTO Out SELECT symbol, price * volume AS notional FROM Trades WHERE volume > 1000;   -- optional query name (metrics, explain)
@option('pattern.max_partial_matches', '500000') INSERT INTO Out SELECT symbol, price * volume AS notional FROM Trades;   -- per-query settings
