CREATE STREAM S (x INT);
INSERT ALL EVENTS INTO Out
SELECT min(x) AS lo, max(x) AS hi, min_forever(x) AS flo, max_forever(x) AS fhi,
       minForever(x) AS flo2, maxForever(x) AS fhi2
FROM S WINDOW('length', 1);
