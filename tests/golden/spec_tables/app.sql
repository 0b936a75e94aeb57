CREATE TABLE Users (id INT, name STRING, tier STRING, PRIMARY KEY (id));
CREATE TABLE Customers (id STRING, segment STRING, PRIMARY KEY (id))
WITH (extension = 'postgres', "postgres.url" = 'postgres://localhost:5432/shop', "postgres.table" = 'customers',
      "cache.policy" = 'LRU', "cache.size" = '10000', "cache.ttl" = '60 sec');
