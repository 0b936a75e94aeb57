-- A table may be the first side: the stream's arrivals look it up by key, and SELECT * names
-- attributes several sides share alias_attribute.
CREATE TABLE Rates (cur STRING, rate DOUBLE, PRIMARY KEY (cur));
CREATE STREAM SetRate (cur STRING, rate DOUBLE);
CREATE STREAM Pay (cur STRING, amount DOUBLE);
INSERT INTO Rates SELECT cur, rate FROM SetRate;
INSERT INTO Converted SELECT * FROM Rates AS r RIGHT JOIN Pay AS p ON r.cur = p.cur;
