CREATE STREAM S (sym STRING, x INT);
INSERT INTO Out SELECT sym, count() AS c, sum(x) AS total FROM S WINDOW('time', 2 sec) GROUP BY sym OUTPUT SNAPSHOT EVERY 1 sec;
