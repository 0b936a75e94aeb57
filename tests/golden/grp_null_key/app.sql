CREATE STREAM S (sym STRING, x INT);
INSERT INTO Run SELECT sym, count() AS c FROM S GROUP BY sym;
INSERT INTO Bat SELECT sym, sum(x) AS total FROM S WINDOW('lengthBatch', 3) GROUP BY sym;
