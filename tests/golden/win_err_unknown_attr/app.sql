CREATE STREAM S (symbol STRING, price DOUBLE);
INSERT INTO Out SELECT symbol FROM S WINDOW('unique', sybmol);
