-- explain says which patterns run on the two-step fast path: the followed-by and the absence
-- rules do, the three-step one does not.
CREATE STREAM Orders (id LONG, amount DOUBLE);
CREATE STREAM Payments (id LONG, amount DOUBLE);

INSERT INTO Paid
SELECT e1.id AS id FROM PATTERN (EVERY e1=Orders -> e2=Payments[id = e1.id]) WITHIN 1 min;

INSERT INTO Unpaid
SELECT e1.id AS id FROM PATTERN (EVERY e1=Orders -> NOT Payments[id = e1.id] FOR 15 min);

INSERT INTO Twice
SELECT e1.id AS id FROM PATTERN (EVERY e1=Orders -> e2=Payments[id = e1.id] -> e3=Payments[id = e1.id]);
