CREATE STREAM S (user STRING);
INSERT INTO Out SELECT user, count() AS c FROM S WINDOW('session', 1 sec, user);
