CREATE STREAM R (id STRING, ts LONG, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('late.stream' = 'Late');
INSERT INTO Out SELECT id, ts FROM R WINDOW('length', 5);
