-- HTTP in, webhook out: POST JSON (one object, an array or NDJSON) to
--   curl -d '{"service": "api", "latency_ms": 950}' http://127.0.0.1:8080/Requests
-- (202 accepted, 400 with the reasons for bad events, 503 while the engine is saturated);
-- slow requests go to a webhook in batches of 10, with retries on 5xx.
CREATE STREAM Requests (service STRING, latency_ms INT)
WITH (type = 'source', extension = 'http', "http.listen" = '127.0.0.1:8080');
CREATE STREAM Slow (service STRING, latency_ms INT)
WITH (type = 'sink', extension = 'webhook', "webhook.url" = 'http://127.0.0.1:9000/alerts',
      "webhook.batch" = '10', "webhook.headers.Authorization" = 'Bearer ${ALERT_TOKEN:-dev}');
CREATE STREAM Log (service STRING, latency_ms INT)
WITH (type = 'sink', extension = 'log', "log.prefix" = 'slow');
INSERT INTO Slow SELECT service, latency_ms FROM Requests WHERE latency_ms > 500;
INSERT INTO Log SELECT service, latency_ms FROM Requests WHERE latency_ms > 500;
