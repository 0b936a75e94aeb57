CREATE TABLE Users (id INT, name STRING, PRIMARY KEY (id));
CREATE STREAM S (id INT);
INSERT INTO O SELECT id, name FROM Users;
INSERT INTO P SELECT s.id FROM S AS s JOIN Users WINDOW('length', 2) AS u ON s.id = u.id;
INSERT INTO Q SELECT s.id FROM S AS s JOIN Users AS u UNIDIRECTIONAL ON s.id = u.id;
INSERT INTO R SELECT s.id FROM S AS s JOIN Users[id > 1] AS u ON s.id = u.id;
