CREATE STREAM S (id STRING, et LONG);
INSERT ALL EVENTS INTO Out SELECT id, et, count() AS c FROM S WINDOW('externalTime', et, 1 sec);
