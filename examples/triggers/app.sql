-- A trigger is a stream driven by the app clock: here a heartbeat every 5 seconds.
CREATE TRIGGER Heartbeat AT EVERY 5 SECONDS;

INSERT INTO Beats
SELECT triggered_time, format_time(triggered_time, 'HH:mm:ss') AS at
FROM Heartbeat;
