-- A file source (one JSON object or array per line) into a log sink (stderr). A line that cannot
-- be decoded goes to the error stream (error.strategy = 'stream'), whose rows are logged too,
-- through the same sink so the lines keep their order.
CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT)
WITH (type = 'source', extension = 'file', "file.path" = 'trades.ndjson',
      'error.strategy' = 'stream', 'error.stream' = 'BadTrades');
CREATE STREAM Log (line STRING)
WITH (type = 'sink', extension = 'log', format = 'text', "log.prefix" = '> ');

INSERT INTO Log SELECT concat(symbol, ' ', price * volume) AS line FROM Trades WHERE price > 50;
INSERT INTO Log SELECT concat('bad: ', payload, ' (', error, ')') AS line FROM BadTrades;
