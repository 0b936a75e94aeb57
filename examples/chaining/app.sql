-- Queries chain through streams: Orders -> Large -> Alerts. Only Alerts (read by no query) is
-- printed; add `--print Large` to see the intermediate stream too.
CREATE STREAM Orders (id STRING, customer STRING, amount DOUBLE);

INSERT INTO Large
SELECT id, customer, amount FROM Orders WHERE amount >= 1000;

SELECT id, 'large order from ' || customer AS reason
FROM Large
WHERE customer != 'internal'
INSERT INTO Alerts;
