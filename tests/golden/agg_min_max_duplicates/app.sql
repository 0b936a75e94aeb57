CREATE STREAM S (x INT);
INSERT INTO Out SELECT x, min(x) AS lo, max(x) AS hi, count(x) AS n FROM S WINDOW('length', 3);
