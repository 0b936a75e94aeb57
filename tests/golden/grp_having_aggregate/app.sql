CREATE STREAM S (sym STRING, x INT);
INSERT INTO Out SELECT sym, sum(x) AS total FROM S WINDOW('length', 4) GROUP BY sym HAVING count() >= 2 AND max(x) < 10;
