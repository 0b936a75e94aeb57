CREATE STREAM S (x INT);
INSERT INTO Out SELECT count() AS c FROM S WINDOW('cron', '0 */5 * * *');
