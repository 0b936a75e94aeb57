CREATE STREAM R (id STRING, ts LONG, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('late.stream' = 'Late');
INSERT INTO Out SELECT id, count() AS c FROM R WINDOW('length', 5);
INSERT INTO LateCount SELECT id, count() AS n FROM Late;
