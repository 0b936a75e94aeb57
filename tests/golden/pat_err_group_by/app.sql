CREATE STREAM Login (user STRING, ip STRING);
CREATE STREAM Logout (user STRING);
INSERT INTO Out
SELECT e1.user AS user, count() AS n
FROM PATTERN (EVERY e1=Login -> e2=Logout[user = e1.user])
GROUP BY e1.user;
