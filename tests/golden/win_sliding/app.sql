CREATE STREAM S (x INT);
INSERT INTO Out SELECT count() AS c, sum(x) AS total FROM S WINDOW('sliding', 2 sec, 1 sec);
