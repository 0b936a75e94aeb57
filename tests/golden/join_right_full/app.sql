-- RIGHT and FULL outer joins: an arriving event of an outer side without a match emits one row
-- padded with NULLs; it is not retracted when a match arrives later.
CREATE STREAM L (k INT, a STRING);
CREATE STREAM R (k INT, b STRING);
INSERT INTO RightOut SELECT l.a, r.b FROM L WINDOW('length', 5) AS l RIGHT OUTER JOIN R WINDOW('length', 5) AS r ON l.k = r.k;
INSERT INTO FullOut SELECT l.a, r.b FROM L WINDOW('length', 5) AS l FULL JOIN R WINDOW('length', 5) AS r ON l.k = r.k;
