CREATE STREAM T (sym STRING, price DOUBLE);
PARTITION WITH (price < 100 AS 'low' OR price >= 100 AS 'high' OF T)
BEGIN
  INSERT INTO Out SELECT sym, avg(price) AS mean FROM T WINDOW('length', 2);
END;
