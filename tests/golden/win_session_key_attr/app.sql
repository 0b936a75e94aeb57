CREATE STREAM S (user STRING, x INT);
INSERT INTO Out SELECT user, count() AS c, sum(x) AS total FROM S WINDOW('session', 1 sec, user);
