CREATE STREAM S (id STRING);
INSERT INTO Out SELECT count() AS c, first(id) AS f, last(id) AS l FROM S WINDOW SLIDING(3 sec, 1 sec);
