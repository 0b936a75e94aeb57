-- Two event-time streams: the join runs in event-time order under the minimum of their
-- watermarks, and its time windows expire by event time.
CREATE STREAM Clicks (user STRING, ts LONG, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND);
CREATE STREAM Views (user STRING, ts LONG, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND);
INSERT INTO Out SELECT c.user, c.ts AS click_ts, v.ts AS view_ts
FROM Clicks WINDOW('time', 5 sec) AS c JOIN Views WINDOW('time', 5 sec) AS v ON c.user = v.user;
