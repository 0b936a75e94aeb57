-- NATS JetStream in and out: acknowledged only after the output is confirmed by JetStream.
CREATE STREAM Orders (id STRING, amount DOUBLE)
WITH (type = 'source', extension = 'nats', "nats.url" = '${NATS_URL:nats://127.0.0.1:4222}',
      "nats.subject" = 'orders', "nats.jetstream" = 'true', "nats.stream" = 'ORDERS',
      "nats.durable" = 'big-orders', 'error.strategy' = 'stream', 'error.stream' = 'BadOrders');
CREATE STREAM BigOrders (id STRING, amount DOUBLE)
WITH (type = 'sink', extension = 'nats', "nats.url" = '${NATS_URL:nats://127.0.0.1:4222}',
      "nats.subject" = 'orders.big', "nats.jetstream" = 'true', "nats.stream" = 'BIG_ORDERS');
CREATE STREAM Rejects (payload STRING, error STRING)
WITH (type = 'sink', extension = 'log', "log.prefix" = 'rejected: ');
INSERT INTO BigOrders SELECT id, amount FROM Orders WHERE amount > 1000;
INSERT INTO Rejects SELECT payload, error FROM BadOrders;
