-- Three inputs chain left to right: ((o JOIN c) LEFT JOIN p). Every arrival joins with the
-- current contents of the other two windows.
CREATE STREAM Orders (id INT, cust INT);
CREATE STREAM Customers (cust INT, name STRING);
CREATE STREAM Payments (order_id INT, amount DOUBLE);
INSERT INTO Report
SELECT o.id, c.name, p.amount
FROM Orders WINDOW('length', 10) AS o
     JOIN Customers WINDOW('length', 10) AS c ON o.cust = c.cust
     LEFT JOIN Payments WINDOW('length', 10) AS p ON p.order_id = o.id;
