CREATE STREAM S (t LONG, ts TIMESTAMP, s STRING);
INSERT INTO Out
SELECT format_time(t, 'yyyy-MM-dd''T''HH:mm:ss.SSSZ') AS iso, format_time(ts, 'EEE, d MMM yyyy') AS day,
       parse_time(s, 'yyyy-MM-dd') AS midnight, parse_time(s, 'dd/MM/yyyy') AS wrong_pattern
FROM S;
