CREATE STREAM Orders (id STRING, amount DOUBLE)
WITH (type = 'source', extension = 'nats', format = 'json',
      "nats.url" = 'nats://127.0.0.1:4222', "nats.subject" = 'orders');
CREATE STREAM Alerts (id STRING, reason STRING)
WITH (type = 'sink', extension = 'webhook', format = 'json', "webhook.url" = 'http://localhost:8080/alerts');
