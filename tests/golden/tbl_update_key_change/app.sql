-- UPDATE may change the primary key: the row is re-keyed in place; if another row already has
-- the new key, that row is replaced (removed).
CREATE TABLE T (id INT, v STRING, PRIMARY KEY (id));
CREATE STREAM Ins (id INT, v STRING);
CREATE STREAM Move (src INT, dst INT);
CREATE STREAM Probe (id INT);
INSERT INTO T SELECT id, v FROM Ins;
UPDATE T SET id = m.dst FROM Move AS m ON T.id = m.src;
INSERT INTO Rows SELECT p.id AS probe, t.id, t.v FROM Probe AS p JOIN T AS t;
INSERT INTO Found SELECT id, id IN T AS present FROM Probe;
