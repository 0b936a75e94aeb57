CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);
INSERT INTO A SELECT symbol, price FROM Trades WINDOW('length', 100);
INSERT INTO B SELECT symbol, price FROM Trades WINDOW TUMBLING(1 min);
INSERT INTO C SELECT symbol, price FROM Trades WINDOW LENGTH(100);
