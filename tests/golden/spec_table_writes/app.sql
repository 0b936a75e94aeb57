CREATE TABLE Users (id INT, name STRING, tier STRING, PRIMARY KEY (id));
CREATE STREAM UserEvents (id INT, name STRING, tier STRING);
CREATE STREAM TierChanges (id INT, tier STRING);
CREATE STREAM Removals (id INT);
INSERT INTO Users SELECT id, name, tier FROM UserEvents;                    -- insert (replace on key)
UPDATE Users SET tier = e.tier FROM TierChanges AS e ON Users.id = e.id;     -- update matching rows
DELETE FROM Users USING Removals AS r ON Users.id = r.id;                    -- delete matching rows
UPSERT INTO Users SELECT id, name, tier FROM UserEvents;                    -- insert or replace
-- Observe the table: every Probe looks its id up.
CREATE STREAM Probe (id INT);
INSERT INTO Seen SELECT p.id, u.name, u.tier FROM Probe AS p LEFT JOIN Users AS u ON p.id = u.id;
