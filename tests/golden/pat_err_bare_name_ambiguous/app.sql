CREATE STREAM Login (user STRING, ip STRING);
CREATE STREAM Logout (user STRING);
INSERT INTO Out
SELECT Login.ip AS ip
FROM PATTERN (EVERY e1=Login -> e2=Login[user = e1.user]);
