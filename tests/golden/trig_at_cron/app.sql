CREATE TRIGGER C AT CRON '*/5 * * * * *';
INSERT INTO Out SELECT triggered_time FROM C;
