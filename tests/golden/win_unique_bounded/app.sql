-- unique keeps one row per key, and at most window.max_events keys: a new key beyond the bound
-- evicts the key whose row is oldest (an expired row, counted as an eviction).
CREATE STREAM S (k STRING, v INT);

@option('window.max_events', '2')
INSERT ALL EVENTS INTO Out
SELECT k, v FROM S WINDOW('unique', k);
