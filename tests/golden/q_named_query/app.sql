CREATE STREAM Trades (symbol STRING, price DOUBLE);
@name('big-trades') INSERT INTO Big SELECT symbol FROM Trades WHERE price > 50;
INSERT INTO Small SELECT symbol FROM Trades WHERE price <= 50;
