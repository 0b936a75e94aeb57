CREATE TABLE Users (id INT, name STRING, tier STRING, PRIMARY KEY (id));
CREATE STREAM UserEvents (id INT, name STRING, tier STRING);
SELECT id, name, tier FROM UserEvents UPDATE OR INSERT INTO Users SET Users.tier = tier ON Users.id = id;
-- Observe the table: SET changes only the tier of an existing row; a new id inserts the whole row.
CREATE STREAM Probe (id INT);
INSERT INTO Seen SELECT p.id, u.name, u.tier FROM Probe AS p LEFT JOIN Users AS u ON p.id = u.id;
