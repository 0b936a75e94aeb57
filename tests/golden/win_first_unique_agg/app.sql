CREATE STREAM S (sym STRING, x INT);
INSERT INTO Out SELECT sym, count() AS keys, sum(x) AS total FROM S WINDOW('firstUnique', sym);
