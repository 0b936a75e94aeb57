CREATE STREAM S (a BOOL, b BOOL, x INT);
INSERT INTO Out
SELECT a, b, a AND b AS and_, a OR b AS or_, NOT a AS not_a, x + 1 AS plus, x = 1 AS eq, x <> 1 AS ne,
       x IS NULL AS isnull, x IS NOT NULL AS notnull
FROM S;
