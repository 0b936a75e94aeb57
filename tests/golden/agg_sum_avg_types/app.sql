CREATE STREAM S (i INT, d DOUBLE);
INSERT INTO Out SELECT sum(i) AS si, sum(d) AS sd, avg(i) AS ai, avg(d) AS ad, count(i) AS ci FROM S;
