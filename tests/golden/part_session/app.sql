CREATE STREAM S (user STRING, x INT);
PARTITION WITH (user OF S)
BEGIN
  INSERT INTO Out SELECT user, count() AS c, sum(x) AS total FROM S WINDOW('session', 1 sec);
END;
