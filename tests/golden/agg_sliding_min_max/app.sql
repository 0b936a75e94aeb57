CREATE STREAM S (x INT, s STRING);
INSERT INTO Out
SELECT count() AS c, sum(x) AS total, avg(x) AS mean, min(x) AS lo, max(x) AS hi,
       min(s) AS smin, max(s) AS smax
FROM S WINDOW('length', 3);
