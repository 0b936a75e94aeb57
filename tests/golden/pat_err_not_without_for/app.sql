CREATE STREAM Login (user STRING, ip STRING);
CREATE STREAM Logout (user STRING);
INSERT INTO Out
SELECT e1.user AS user
FROM PATTERN (EVERY e1=Login -> NOT Logout[user = e1.user]);
