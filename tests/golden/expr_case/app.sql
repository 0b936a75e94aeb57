CREATE STREAM S (x INT, s STRING);
INSERT INTO Out
SELECT x,
       CASE WHEN x < 0 THEN 'neg' WHEN x = 0 THEN 'zero' ELSE 'pos' END AS sign_s,
       CASE WHEN x > 10 THEN 'big' END AS big,
       CASE s WHEN 'a' THEN 1 WHEN 'b' THEN 2 ELSE 0 END AS code,
       CASE s WHEN 'a' THEN 1.5 END AS only_a,
       CASE WHEN x > 0 THEN x ELSE 2.5 END AS mixed
FROM S;
