-- UPDATE updates every matching row; ON on a column without index scans the table. SET values
-- may read the row's old values (qualified by the table name) and are computed before any is
-- assigned.
CREATE TABLE Stock (item STRING, shelf STRING, qty INT, PRIMARY KEY (item));
CREATE STREAM Deliveries (item STRING, shelf STRING, qty INT);
CREATE STREAM Restock (shelf STRING, extra INT);
CREATE STREAM Dump (n INT);
INSERT INTO Stock SELECT item, shelf, qty FROM Deliveries;
UPDATE Stock SET qty = Stock.qty + r.extra, shelf = Stock.shelf || '*' FROM Restock AS r ON Stock.shelf = r.shelf;
INSERT INTO Rows SELECT d.n, s.item, s.shelf, s.qty FROM Dump AS d JOIN Stock AS s;
