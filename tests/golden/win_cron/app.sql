CREATE STREAM S (x INT);
INSERT INTO Out SELECT count() AS c, sum(x) AS total FROM S WINDOW('cron', '*/2 * * * * *');
