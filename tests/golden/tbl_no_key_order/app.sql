-- Without a primary key every insert adds a row; scans visit rows in insertion order.
CREATE TABLE Log (k STRING, v INT) WITH (extension = 'inMemory');
CREATE STREAM Feed (k STRING, v INT);
CREATE STREAM Dump (n INT);
INSERT INTO Log SELECT k, v FROM Feed;
INSERT INTO Rows SELECT d.n, l.k, l.v FROM Dump AS d JOIN Log AS l ON l.v > d.n;
