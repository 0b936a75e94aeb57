CREATE STREAM S (id STRING, a INT, b INT);
INSERT ALL EVENTS INTO Out SELECT id FROM S WINDOW('sort', 2, a, 'asc', b, 'desc');
