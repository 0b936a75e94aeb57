CREATE STREAM S (sym STRING, x INT);
INSERT ALL EVENTS INTO Out SELECT sym, x, count() AS c, sum(x) AS total FROM S WINDOW('unique', sym);
