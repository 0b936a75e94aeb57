CREATE STREAM A (id STRING, v INT);
CREATE STREAM B (id STRING, v INT);

-- the A at 2000 breaks the leading absence; the pattern has not matched yet, so a new
-- instance starts at 2000 (deadline 7000); after its one match the query is finished
INSERT INTO Out
SELECT e2.id AS b
FROM PATTERN (NOT A FOR 5 sec -> e2=B);
