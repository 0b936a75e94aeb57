CREATE STREAM A (x INT);
-- B is auto-created by the next statement
INSERT INTO C SELECT y + 1 AS z FROM B;
INSERT INTO B SELECT x AS y FROM A;
