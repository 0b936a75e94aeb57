CREATE STREAM Temp (sensor STRING, temp DOUBLE);
PARTITION WITH (sensor OF Temp)
BEGIN
  INSERT INTO Rising
  SELECT e1.sensor AS sensor, e1.temp AS t1, e2.temp AS t2, e3.temp AS t3
  FROM SEQUENCE (EVERY e1=Temp -> e2=Temp[temp > e1.temp] -> e3=Temp[temp > e2.temp]);
END;
