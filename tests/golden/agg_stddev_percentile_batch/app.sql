CREATE STREAM S (x DOUBLE);
INSERT INTO Out
SELECT stddev(x) AS sd, percentile(x, 0) AS p0, percentile(x, 25) AS p25, percentile(x, 50) AS p50,
       percentile(x, 75) AS p75, percentile(x, 76) AS p76, percentile(x, 90) AS p90,
       percentile(x, 100) AS p100
FROM S WINDOW('lengthBatch', 8);
