CREATE STREAM Buys (item STRING, qty INT);
CREATE STREAM Sells (item STRING, qty INT);
INSERT INTO Moves SELECT item, qty AS delta FROM Buys;
INSERT INTO Moves SELECT item, -qty AS delta FROM Sells;
