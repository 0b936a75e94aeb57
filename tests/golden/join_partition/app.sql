-- A join inside a PARTITION keeps its windows per key: rows join only rows of the same key, and
-- a tumbling window on a side closes per key (on its timer).
CREATE STREAM Bids (user STRING, item STRING, price DOUBLE);
CREATE STREAM Asks (user STRING, item STRING, price DOUBLE);
PARTITION WITH (user OF Bids, user OF Asks)
BEGIN
  INSERT INTO Matched SELECT b.user, b.item, b.price AS bid, a.price AS ask
  FROM Bids WINDOW('length', 2) AS b JOIN Asks WINDOW TUMBLING(4 ms) AS a ON b.item = a.item;
END;
