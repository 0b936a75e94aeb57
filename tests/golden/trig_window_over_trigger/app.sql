CREATE TRIGGER Tick AT EVERY 1 SECOND;
INSERT INTO Out SELECT count() AS n, min(triggered_time) AS first_t, max(triggered_time) AS last_t FROM Tick WINDOW('lengthBatch', 2);
