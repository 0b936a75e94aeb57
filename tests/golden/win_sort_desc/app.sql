CREATE STREAM S (id STRING, price DOUBLE);
INSERT ALL EVENTS INTO Out SELECT id, price, count() AS c, min(price) AS lo FROM S WINDOW('sort', 2, price, 'desc');
