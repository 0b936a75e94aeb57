CREATE STREAM S (x DOUBLE);
INSERT INTO Out SELECT stddev(x) AS sd, percentile(x, 50) AS p50, percentile(x, 75) AS p75 FROM S;
