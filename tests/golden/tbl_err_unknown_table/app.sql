CREATE TABLE Users (id INT, name STRING, PRIMARY KEY (id));
CREATE STREAM S (id INT);
INSERT INTO A SELECT s.id, u.name FROM S AS s JOIN Usres AS u ON s.id = u.id;
INSERT INTO B SELECT id FROM S WHERE id IN Usres;
INSERT INTO C SELECT id FROM S WHERE id IN S;
UPDATE Usres SET name = 'x' FROM S AS e ON Usres.id = e.id;
DELETE FROM Nope USING S AS e ON Nope.id = e.id;
