-- An in-memory table kept up to date by streams, read by a stream-table join and by IN.
CREATE TABLE Customers (id INT, name STRING, tier STRING, PRIMARY KEY (id), INDEX (tier));
CREATE STREAM Signups (id INT, name STRING, tier STRING);
CREATE STREAM TierChanges (id INT, tier STRING);
CREATE STREAM Closures (id INT);
CREATE STREAM Orders (customer INT, amount DOUBLE);

INSERT INTO Customers SELECT id, name, tier FROM Signups;          -- insert, replace on key
UPDATE Customers SET tier = c.tier FROM TierChanges AS c ON Customers.id = c.id;
DELETE FROM Customers USING Closures AS c ON Customers.id = c.id;

-- Enrichment: a hash lookup on the primary key for every order.
INSERT INTO EnrichedOrders
SELECT o.customer, c.name, c.tier, o.amount
FROM Orders AS o LEFT JOIN Customers AS c ON o.customer = c.id;

-- Orders from unknown customers.
INSERT INTO UnknownCustomer
SELECT customer, amount FROM Orders WHERE customer NOT IN Customers;
