-- Connector keys are checked per connector and direction; client settings a connector manages are refused.
CREATE STREAM A (id LONG) WITH (type = 'source', extension = 'nats', "nats.url" = 'nats://127.0.0.1:4222');
CREATE STREAM B (id LONG) WITH (type = 'sink', extension = 'mqtt', "mqtt.url" = 'mqtt://127.0.0.1:1883', "mqtt.topic" = 't', "mqtt.qoss" = '1');
CREATE STREAM C (id LONG) WITH (type = 'source', extension = 'log');
CREATE STREAM D (id LONG) WITH (type = 'sink', extension = 'file', "file.path" = 'x', "json.mapping.id" = '$.id');
CREATE STREAM E (id LONG) WITH (type = 'source', extension = 'kafka', "kafka.bootstrap.servers" = '127.0.0.1:9092', "kafka.topic" = 't', "kafka.enable.auto.commit" = 'true');
CREATE STREAM F (id LONG) WITH (type = 'source', extension = 'file', "file.path" = 'x', format = 'csv', "text.template" = '{{id}}');
