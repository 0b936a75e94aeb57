CREATE STREAM Login (user STRING, ip STRING);
CREATE STREAM Logout (user STRING);
INSERT INTO Out
SELECT login.user AS user
FROM PATTERN (EVERY login=Login -> logout=Logout[user = login.usr]);
