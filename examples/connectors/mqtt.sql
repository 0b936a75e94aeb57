-- MQTT: every sensor topic in (QoS 1, persistent session), alerts out as text.
CREATE STREAM Readings (sensor STRING, celsius DOUBLE)
WITH (type = 'source', extension = 'mqtt', "mqtt.url" = 'mqtt://127.0.0.1:1883',
      "mqtt.topic" = 'sensors/+/temperature', "mqtt.qos" = '1', "mqtt.client_id" = 'eventflux-temps');
CREATE STREAM Alerts (sensor STRING, celsius DOUBLE)
WITH (type = 'sink', extension = 'mqtt', "mqtt.url" = 'mqtt://127.0.0.1:1883',
      "mqtt.topic" = 'alerts/temperature', format = 'text',
      "text.template" = '{{sensor}} is at {{celsius}} C');
INSERT INTO Alerts SELECT sensor, celsius FROM Readings WHERE celsius > 40;
