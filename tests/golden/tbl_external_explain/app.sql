-- External tables (§4): the store, the cache and the error strategy show in explain; every
-- access goes by primary key. Nothing connects until an event needs the store.
CREATE STREAM Orders (id STRING, customer INT, amount DOUBLE);
CREATE STREAM Signups (id INT, name STRING, tier STRING);
CREATE TABLE Customers (id INT, name STRING, tier STRING, PRIMARY KEY (id))
WITH (extension = 'postgres', "postgres.url" = 'postgres://postgres@127.0.0.1:5432/test',
      "postgres.table" = 'customers', "cache.policy" = 'LRU', "cache.size" = '10000',
      "cache.ttl" = '60 sec', 'error.strategy' = 'stream', 'error.stream' = 'StoreErrors');
CREATE TABLE Tiers (tier STRING, discount DOUBLE, PRIMARY KEY (tier))
WITH (extension = 'redis', "redis.url" = 'redis://127.0.0.1:6379/', "redis.key.prefix" = 'tier:',
      "cache.size" = '100', "cache.preload" = 'true', 'error.strategy' = 'fail');
CREATE TABLE Audit (id INT, name STRING, PRIMARY KEY (id))
WITH (extension = 'mysql', "mysql.url" = 'mysql://root@127.0.0.1:3306/test');
INSERT INTO Enriched
SELECT o.id, c.name, t.discount * o.amount AS discount
FROM Orders AS o JOIN Customers AS c ON o.customer = c.id
     LEFT JOIN Tiers AS t ON c.tier = t.tier;
INSERT INTO Customers SELECT id, name, tier FROM Signups;
@option('error.strategy', 'log')
INSERT INTO Audit SELECT id, name FROM Signups;
INSERT INTO Failed SELECT payload, error FROM StoreErrors;
