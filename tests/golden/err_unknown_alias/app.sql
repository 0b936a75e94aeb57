CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);
INSERT INTO A SELECT t.prcie AS p FROM Trades AS t;
INSERT INTO B SELECT x.price AS p FROM Trades AS t;
INSERT INTO D SELECT symbol FROM Trades[volum > 1];
