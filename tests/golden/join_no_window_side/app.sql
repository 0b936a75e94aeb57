-- A side without a window retains nothing: its arrivals probe the other side's window but are
-- not kept, so later arrivals on the other side do not see them.
CREATE STREAM Alerts (host STRING, msg STRING);
CREATE STREAM Owners (host STRING, owner STRING);
INSERT INTO Paged
SELECT a.host, a.msg, o.owner
FROM Alerts AS a JOIN Owners WINDOW('length', 10) AS o ON a.host = o.host;
