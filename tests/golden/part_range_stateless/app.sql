-- A range partition routes only the events of its ranges, even to a stateless query: events
-- outside every range are dropped.
CREATE STREAM T (sym STRING, price DOUBLE);
PARTITION WITH (price < 100 AS 'low' OR price >= 1000 AS 'high' OF T) BEGIN
  INSERT INTO Out SELECT sym, price FROM T;
END;
