CREATE STREAM S (a INT, b INT, s STRING);
INSERT INTO Out
SELECT coalesce(a, b, -1) AS co, ifnull(s, 'none') AS ifn, nullif(a, b) AS nif,
       if(a > b, 'a', 'b') AS pick, if(s IS NULL, 0, length(s)) AS slen
FROM S;
