-- ON without an equality on the key or an index: the table is scanned, ON is evaluated per row.
CREATE TABLE Limits (name STRING, low DOUBLE, high DOUBLE, PRIMARY KEY (name));
CREATE STREAM Setup (name STRING, low DOUBLE, high DOUBLE);
CREATE STREAM Readings (sensor STRING, v DOUBLE);
INSERT INTO Limits SELECT name, low, high FROM Setup;
INSERT INTO Bands SELECT r.sensor, r.v, l.name AS band
FROM Readings AS r JOIN Limits AS l ON r.v >= l.low AND r.v < l.high;
