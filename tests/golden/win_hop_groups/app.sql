CREATE STREAM S (sym STRING);
INSERT INTO Out SELECT sym, count() AS c FROM S WINDOW('hop', 2 sec, 1 sec) GROUP BY sym;
