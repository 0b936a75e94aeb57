CREATE STREAM S (x INT);
INSERT INTO LB SELECT max_forever(x) AS hi, min_forever(x) AS lo, max(x) AS bhi FROM S WINDOW('lengthBatch', 2);
INSERT INTO TB SELECT maxForever(x) AS hi, minForever(x) AS lo FROM S WINDOW('timeBatch', 1 sec);
