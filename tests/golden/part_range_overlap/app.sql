CREATE STREAM T (sym STRING, price DOUBLE);
PARTITION WITH (price < 100 AS 'low' OR price >= 50 AS 'mid' OR price >= 100 AS 'high' OF T)
BEGIN
  INSERT INTO Out SELECT sym, price, count() AS c FROM T;
END;
