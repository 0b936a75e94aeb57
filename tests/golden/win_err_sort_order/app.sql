CREATE STREAM S (id STRING, price DOUBLE);
INSERT INTO Out SELECT id FROM S WINDOW('sort', 2, price, 'up');
