-- Redis: a stream read through a consumer group (XACK after processing) into another stream,
-- and a pub/sub channel for a live feed.
CREATE STREAM Clicks (user STRING, page STRING)
WITH (type = 'source', extension = 'redis', "redis.url" = 'redis://127.0.0.1:6379/',
      "redis.stream" = 'clicks', "redis.group" = 'eventflux');
CREATE STREAM Checkout (user STRING, page STRING)
WITH (type = 'sink', extension = 'redis', "redis.stream" = 'checkout-clicks');
CREATE STREAM Feed (user STRING, page STRING)
WITH (type = 'sink', extension = 'redis', "redis.channel" = 'live-clicks');
INSERT INTO Checkout SELECT user, page FROM Clicks WHERE page == '/checkout';
INSERT INTO Feed SELECT user, page FROM Clicks;
