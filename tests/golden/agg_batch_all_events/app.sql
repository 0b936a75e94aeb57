CREATE STREAM S (x INT);
INSERT ALL EVENTS INTO Out SELECT count() AS c, sum(x) AS total FROM S WINDOW('lengthBatch', 2);
