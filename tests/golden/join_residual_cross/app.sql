-- ON with an equality and another condition (hash lookup, then the rest), and a join without
-- ON (every pair).
CREATE STREAM Bids (item STRING, price DOUBLE);
CREATE STREAM Asks (item STRING, price DOUBLE);
INSERT INTO Matches SELECT b.item, b.price AS bid, a.price AS ask
FROM Bids WINDOW('length', 5) AS b JOIN Asks WINDOW('length', 5) AS a ON b.item = a.item AND b.price >= a.price;
INSERT INTO Pairs SELECT b.item AS bid_item, a.item AS ask_item
FROM Bids WINDOW('length', 2) AS b JOIN Asks WINDOW('length', 2) AS a;
