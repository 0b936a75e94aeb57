CREATE TABLE Users (id INT, name STRING, tier STRING, PRIMARY KEY (id), INDEX (tier));
CREATE STREAM A (id INT, x DOUBLE);
CREATE STREAM B (id INT, y DOUBLE);
INSERT INTO O1 SELECT a.id, b.y FROM A WINDOW('time', 1 min) AS a JOIN B WINDOW('length', 5) AS b UNIDIRECTIONAL ON a.id = b.id AND a.x < b.y;
INSERT INTO O2 SELECT a.id, u.name FROM A AS a JOIN Users AS u ON u.id = a.id AND u.tier = 'gold';
INSERT INTO O3 SELECT a.id, u.name FROM A AS a JOIN Users AS u ON u.tier = 'gold';
INSERT INTO O4 SELECT a.id FROM A AS a WHERE a.id IN Users;
UPDATE Users SET tier = 'x' FROM B ON Users.name = 'b';
