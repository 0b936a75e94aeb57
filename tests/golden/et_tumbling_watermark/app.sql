CREATE STREAM R (id STRING, ts TIMESTAMP, x INT, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND);
INSERT INTO Out SELECT count() AS c, sum(x) AS total, first(id) AS f, last(id) AS l FROM R WINDOW TUMBLING(1 sec);
