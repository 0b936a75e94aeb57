CREATE STREAM S (sym STRING, tag STRING, x INT);
INSERT INTO Out SELECT sym, tag, first(tag) AS ft, count() AS c FROM S WINDOW('time', 1 sec) GROUP BY sym;
