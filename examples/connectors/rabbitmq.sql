-- RabbitMQ: a durable queue (acknowledged once the outputs are confirmed) into a topic exchange
-- with persistent messages and publisher confirms. Keys as in the earlier EventFlux engine.
CREATE STREAM Orders (id LONG, region STRING, amount DOUBLE)
WITH (type = 'source', extension = 'rabbitmq', "rabbitmq.host" = '127.0.0.1',
      "rabbitmq.queue" = 'orders', "rabbitmq.prefetch" = '500');
CREATE STREAM BigOrders (id LONG, region STRING, amount DOUBLE)
WITH (type = 'sink', extension = 'rabbitmq', "rabbitmq.host" = '127.0.0.1',
      "rabbitmq.exchange" = 'alerts', "rabbitmq.exchange.type" = 'topic',
      "rabbitmq.routing.key" = 'orders.big');
INSERT INTO BigOrders SELECT id, region, amount FROM Orders WHERE amount > 1000;
