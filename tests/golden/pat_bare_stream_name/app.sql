CREATE STREAM Login (user STRING, ip STRING);
CREATE STREAM Logout (user STRING);
INSERT INTO Sessions
SELECT Login.user AS user, Login.ip AS ip
FROM PATTERN (EVERY Login -> Logout[user = Login.user]);
