CREATE TRIGGER Fast AT EVERY 2 SEC;
CREATE TRIGGER Slow AT EVERY 5 SEC;
INSERT INTO Out SELECT 'fast' AS name, triggered_time AS t FROM Fast;
INSERT INTO Out SELECT 'slow' AS name, triggered_time AS t FROM Slow;
