CREATE STREAM Login (user STRING, ip STRING, status STRING);
PARTITION WITH (user OF Login)
BEGIN
  INSERT INTO BruteForce
  SELECT e2.user AS user, count(e1) AS failures, e2.ip AS ip
  FROM PATTERN (EVERY e1=Login[status = 'fail']{5} -> e2=Login[status = 'ok'])
  WITHIN 1 MINUTE;
END;
