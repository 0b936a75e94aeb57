CREATE STREAM S (id STRING, region STRING, x INT);
INSERT INTO Out SELECT region, sum(x) AS total FROM S WINDOW('unique', id) GROUP BY region;
