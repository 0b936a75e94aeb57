CREATE STREAM Health (service STRING, status STRING, code INT);
INSERT INTO Outages
SELECT e1.service AS service, e1.code AS code
FROM PATTERN (EVERY e1=Health[service = 'A' AND status = 'error']
              -> NOT Health[service = 'A' AND status = 'ok'] FOR 30 SEC);
