CREATE STREAM S (x INT);
INSERT INTO Out
SELECT count() AS c0, count(*) AS c1, count(x) AS cx, count(DISTINCT x) AS cd,
       distinct_count(x) AS dc, distinctCount(x) AS dc2
FROM S;
