-- Event time: readings carry their own timestamp and may arrive out of order by up to 5 seconds.
-- The 10-second tumbling window closes when the watermark passes its end; readings older than the
-- watermark go to LateReadings.
CREATE STREAM Readings (sensor STRING, temp DOUBLE, ts TIMESTAMP,
                        WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
WITH ('late.stream' = 'LateReadings');

INSERT INTO Averages
SELECT sensor, avg(temp) AS avg_temp, count() AS readings
FROM Readings WINDOW TUMBLING(10 sec)
GROUP BY sensor;
