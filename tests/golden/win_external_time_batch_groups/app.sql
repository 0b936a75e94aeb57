CREATE STREAM S (sym STRING, et LONG);
INSERT INTO Out SELECT sym, count() AS c, max(et) AS last_et FROM S WINDOW externalTimeBatch(et, 10 sec) GROUP BY sym;
