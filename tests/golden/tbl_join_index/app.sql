-- Stream-table join on an INDEX column: a hash lookup returning every row of that value, in
-- insertion order; LEFT JOIN pads when the index has no such value.
CREATE TABLE Users (id INT, name STRING, tier STRING, PRIMARY KEY (id), INDEX (tier));
CREATE STREAM Signups (id INT, name STRING, tier STRING);
CREATE STREAM Offers (tier STRING, offer STRING);
INSERT INTO Users SELECT id, name, tier FROM Signups;
INSERT INTO Mail SELECT o.offer, u.name FROM Offers AS o LEFT JOIN Users AS u ON o.tier = u.tier;
