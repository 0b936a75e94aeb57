CREATE STREAM Login (user STRING, ip STRING);
CREATE STREAM Logout (user STRING, reason STRING);
PARTITION WITH (user OF Login, user OF Logout)
BEGIN
  INSERT INTO Sessions
  SELECT e1.user AS user, e1.ip AS ip, e2.reason AS reason
  FROM PATTERN (EVERY e1=Login -> e2=Logout);
END;
