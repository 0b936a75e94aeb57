-- Kafka: a topic read by a consumer group (offsets committed only once the outputs are confirmed)
-- into another topic. Any other "kafka.<key>" is handed to librdkafka as <key>.
-- Try it with the broker scripts/services.sh starts (tansu on 127.0.0.1:9092):
--   create the topics 'payments' and 'large-payments', then: eventflux run kafka.sql --stats
CREATE STREAM Payments (account STRING, amount DOUBLE, currency STRING)
WITH (type = 'source', extension = 'kafka', "kafka.bootstrap.servers" = '127.0.0.1:9092',
      "kafka.topic" = 'payments', "kafka.group.id" = 'fraud-rules',
      "kafka.session.timeout.ms" = '10000');
CREATE STREAM LargePayments (account STRING, amount DOUBLE, currency STRING)
WITH (type = 'sink', extension = 'kafka', "kafka.bootstrap.servers" = '127.0.0.1:9092',
      "kafka.topic" = 'large-payments', "kafka.compression.type" = 'none');
INSERT INTO LargePayments SELECT account, amount, currency FROM Payments WHERE amount >= 10000;
