CREATE STREAM Readings (sensor STRING, temp DOUBLE, ts TIMESTAMP,
                        WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
WITH ('late.stream' = 'LateReadings', 'watermark.idle' = '30 sec');
