CREATE STREAM Trades (symbol STRING, price DOUBLE)
WITH (type = 'internal', 'watermark.idel' = '30 sec');
INSERT INTO Out SELECT symbol FROM Trades;
