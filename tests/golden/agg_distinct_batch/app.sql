CREATE STREAM S (s STRING);
INSERT INTO Out SELECT count(DISTINCT s) AS cd, distinctCount(s) AS dc, count(s) AS n, min(s) AS lo, max(s) AS hi FROM S WINDOW('lengthBatch', 4);
