CREATE STREAM S (x INT);
INSERT INTO Out SELECT count() AS c, min(x) AS lo FROM S WINDOW('cron', '10,40 * * * * *');
