CREATE STREAM S (id INT, tier STRING);
CREATE STREAM Users (id INT, tier STRING);
UPDATE Users SET tier = e.tier FROM S AS e ON Users.id = e.id;
DELETE FROM Users USING S AS e ON Users.id = e.id;
UPSERT INTO Users SELECT id, tier FROM S;
SELECT id, tier FROM S UPDATE OR INSERT INTO Users SET Users.tier = tier ON Users.id = id;
