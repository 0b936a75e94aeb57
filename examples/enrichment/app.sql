-- Enrichment from external stores (§4): customers live in PostgreSQL, tier discounts in Redis.
-- Run `psql -h 127.0.0.1 -U postgres -d test -f examples/enrichment/setup.sql` first.
CREATE STREAM Orders (id STRING, customer INT, amount DOUBLE);
CREATE STREAM TierUpdates (tier STRING, discount DOUBLE);

CREATE TABLE Customers (id INT, name STRING, tier STRING, PRIMARY KEY (id))
WITH (extension = 'postgres',
      "postgres.url" = '${EVENTFLUX_PG:postgres://postgres@127.0.0.1:5432/test}',
      "postgres.table" = 'example_customers',
      "cache.policy" = 'LRU', "cache.size" = '10000', "cache.ttl" = '60 sec');

CREATE TABLE Tiers (tier STRING, discount DOUBLE, PRIMARY KEY (tier))
WITH (extension = 'redis',
      "redis.url" = '${EVENTFLUX_REDIS:redis://127.0.0.1:6379/}',
      "redis.key.prefix" = 'example:tier:',
      "cache.size" = '100');

-- Written through to Redis.
UPSERT INTO Tiers SELECT tier, discount FROM TierUpdates;

-- Read through both caches: one store round trip per batch for the keys not cached.
INSERT INTO Priced
SELECT o.id, c.name, c.tier, o.amount * (1.0 - coalesce(t.discount, 0.0)) AS due
FROM Orders AS o JOIN Customers AS c ON o.customer = c.id
     LEFT JOIN Tiers AS t ON c.tier = t.tier;

INSERT INTO UnknownCustomer SELECT id, customer FROM Orders WHERE customer NOT IN Customers;
