CREATE STREAM S (x INT);
INSERT ALL EVENTS INTO Out SELECT x, count() AS c, sum(x) AS total FROM S WINDOW('length', 2) WHERE x > 0;
