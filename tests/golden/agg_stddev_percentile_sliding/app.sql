CREATE STREAM S (x DOUBLE);
INSERT INTO Out SELECT x, stddev(x) AS sd, percentile(x, 50) AS p50, percentile(x, 100) AS p100 FROM S WINDOW('length', 2);
