-- firstUnique remembers at most window.max_events keys: past the bound the oldest key is
-- forgotten (counted as an eviction), so its next event passes again.
CREATE STREAM S (k STRING, v INT);

@option('window.max_events', '2')
INSERT INTO Out
SELECT k, v FROM S WINDOW('firstUnique', k);
