CREATE TABLE Users (id INT, name STRING, tier STRING, PRIMARY KEY (id));
CREATE STREAM UserEvents (id INT, name STRING, tier STRING);
SELECT id, name, tier FROM UserEvents UPDATE OR INSERT INTO Users SET Users.tier = tier ON Users.id = id;
