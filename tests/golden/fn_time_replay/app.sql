CREATE STREAM S (id INT, t LONG, s STRING);
INSERT INTO Out
SELECT id, now() AS clock, event_time() AS et, length(uuid()) AS uuid_len, uuid() = uuid() AS same_uuid,
       format_time(t, 'yyyy-MM-dd HH:mm:ss') AS fmt, parse_time(s, 'yyyy-MM-dd HH:mm:ss') AS parsed, format_time(now(), 'HH:mm:ss.SSS') AS clock_fmt
FROM S;
