-- Classify sensor readings with CASE, LIKE, IN and scalar functions; NULLs follow SQL rules.
CREATE STREAM Readings (sensor STRING, temp DOUBLE, unit STRING);

INSERT INTO Classified
SELECT upper(sensor) AS sensor,
       CASE WHEN unit = 'F' THEN round((temp - 32) * 5 / 9, 1) ELSE temp END AS celsius,
       CASE
         WHEN temp IS NULL THEN 'missing'
         WHEN temp BETWEEN 15 AND 25 THEN 'normal'
         ELSE 'check'
       END AS status,
       event_time() AS seen_at
FROM Readings
WHERE sensor LIKE 'lab-%' AND unit IN ('C', 'F');
