CREATE STREAM R (id STRING, ts LONG, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND);
INSERT INTO Out SELECT count() AS c, first(id) AS f, last(id) AS l FROM R WINDOW('session', 2 sec);
