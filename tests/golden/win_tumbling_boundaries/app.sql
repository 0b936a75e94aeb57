CREATE STREAM S (id STRING);
INSERT INTO Out SELECT first(id) AS f, last(id) AS l, count() AS c FROM S WINDOW('tumbling', 2 sec);
