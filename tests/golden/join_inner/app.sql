-- Stream-stream inner join: an arrival on either side joins with the current contents of the
-- other side's window and emits one row per match (matches in the other side's arrival order).
CREATE STREAM Orders (id INT, item STRING);
CREATE STREAM Shipments (order_id INT, carrier STRING);
INSERT INTO Shipped
SELECT o.id, o.item, s.carrier
FROM Orders WINDOW('length', 3) AS o JOIN Shipments WINDOW('time', 10 sec) AS s ON o.id = s.order_id;
