CREATE STREAM S (x INT);
INSERT INTO Out SELECT x, count(DISTINCT x) AS cd, distinct_count(x) AS dc FROM S WINDOW('length', 3);
