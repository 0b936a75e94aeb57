-- HAVING, ORDER BY and LIMIT over a pattern apply to the matches one event completes (one
-- emission), over the output columns.
CREATE STREAM Login (user STRING, ok BOOL, n INT);
CREATE STREAM Buy (user STRING, amount DOUBLE);
INSERT INTO Out
SELECT e1.user AS who, e1.n AS login, e2.amount AS amount
FROM PATTERN (EVERY e1=Login[ok] -> e2=Buy[user == e1.user])
HAVING amount > 5
ORDER BY login DESC
LIMIT 2;
