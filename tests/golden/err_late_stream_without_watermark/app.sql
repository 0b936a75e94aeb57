CREATE STREAM Readings (sensor STRING, temp DOUBLE, ts TIMESTAMP)
WITH ('late.stream' = 'LateReadings');
