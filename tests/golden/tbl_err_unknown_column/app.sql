CREATE TABLE Users (id INT, name STRING, tier STRING, PRIMARY KEY (idd), INDEX (tire));
CREATE TABLE T (id INT, name STRING, PRIMARY KEY (id));
CREATE STREAM S (id INT, tier STRING);
UPDATE T SET nme = e.tier FROM S AS e ON T.id = e.id;
UPDATE T SET name = e.tier FROM S AS e ON T.idd = e.id;
UPDATE T SET name = e.id FROM S AS e ON T.id = e.id;
UPDATE T SET name = e.tier, name = 'x' FROM S AS e ON T.id = e.id;
INSERT INTO O SELECT s.id, t.nam FROM S AS s JOIN T AS t ON s.id = t.id;
