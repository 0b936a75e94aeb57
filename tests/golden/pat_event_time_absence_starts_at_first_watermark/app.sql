-- A leading absence on event time counts from the stream's first watermark, not from event
-- time 0: a present-day first timestamp gives one match, not billions.
CREATE STREAM E (i INT, ts LONG, WATERMARK FOR ts AS ts - 100 ms);

INSERT INTO O
SELECT 'quiet' AS k
FROM SEQUENCE (NOT E FOR 500 ms);
