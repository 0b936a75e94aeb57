CREATE STREAM Orders (order_id STRING, customer STRING, total DOUBLE);
CREATE STREAM Payments (order_id STRING, amount DOUBLE);
INSERT INTO UnpaidOrders
SELECT o.order_id AS order_id, o.customer AS customer, o.total AS total
FROM PATTERN (EVERY o=Orders -> NOT Payments[order_id = o.order_id] FOR 15 MINUTES);
