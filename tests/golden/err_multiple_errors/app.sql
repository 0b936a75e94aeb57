CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);
INSERT INTO A SELECT symbl FROM Trades;
INSERT INTO B SELECT symbol FROM Trads;
INSERT INTO C SELECT symbol FROM Trades WHERE volume = 'x';
