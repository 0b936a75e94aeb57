CREATE STREAM S (id STRING, kind STRING, ts LONG, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND);

INSERT INTO Out
SELECT e1.id AS id, e1.ts AS t_start
FROM PATTERN (EVERY e1=S[kind = 'start'] -> NOT S[kind = 'end' AND id = e1.id] FOR 5 sec);
