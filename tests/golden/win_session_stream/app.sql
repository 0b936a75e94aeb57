CREATE STREAM S (user STRING, x INT);
INSERT INTO Out SELECT user, x FROM S WINDOW('session', 1 sec);
