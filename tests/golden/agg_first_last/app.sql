CREATE STREAM S (s STRING);
INSERT INTO W SELECT first(s) AS f, last(s) AS l FROM S WINDOW('length', 2);
INSERT INTO R SELECT first(s) AS f, last(s) AS l FROM S;
