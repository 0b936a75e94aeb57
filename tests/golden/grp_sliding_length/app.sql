CREATE STREAM S (sym STRING, x INT);
INSERT ALL EVENTS INTO Out SELECT sym, count() AS c, sum(x) AS total FROM S WINDOW('length', 3) GROUP BY sym;
