CREATE STREAM S (x INT);
-- NOT binds tighter than comparisons (§6): this is (NOT x) > 1
INSERT INTO Out SELECT x FROM S WHERE NOT x > 1;
