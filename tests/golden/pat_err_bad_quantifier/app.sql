CREATE STREAM Login (user STRING, ip STRING);
CREATE STREAM Logout (user STRING);
INSERT INTO Out
SELECT count(e1) AS n
FROM PATTERN (e1=Login{3,2} -> e2=Logout);
