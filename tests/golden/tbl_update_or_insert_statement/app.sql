-- UPDATE OR INSERT INTO T SET … FROM S ON …: matching rows are updated; without a match a row
-- is inserted, its columns taken from SET, else from the ON equality, else from the event
-- attribute of the same name, else NULL.
CREATE TABLE Balances (account INT, owner STRING, balance DOUBLE, PRIMARY KEY (account));
CREATE STREAM Deposits (acct INT, owner STRING, amount DOUBLE);
CREATE STREAM Dump (k INT);
UPDATE OR INSERT INTO Balances SET balance = coalesce(Balances.balance, 0.0) + d.amount
FROM Deposits AS d ON Balances.account = d.acct;
INSERT INTO Rows SELECT x.k, b.account, b.owner, b.balance FROM Dump AS x JOIN Balances AS b;
