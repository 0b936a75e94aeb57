-- WebSocket client in and out: ticks from a feed, a text template per alert to another server;
-- both reconnect with backoff when the connection drops.
CREATE STREAM Ticks (symbol STRING, price DOUBLE)
WITH (type = 'source', extension = 'websocket', "websocket.url" = 'ws://127.0.0.1:9001/ticks');
CREATE STREAM Alerts (symbol STRING, price DOUBLE)
WITH (type = 'sink', extension = 'websocket', "websocket.url" = 'ws://127.0.0.1:9002/alerts',
      format = 'text', "text.template" = '{{symbol}} crossed 100 at {{price}}');
INSERT INTO Alerts SELECT symbol, price FROM Ticks WHERE price > 100;
