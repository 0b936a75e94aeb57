-- Equality on the primary key is a hash lookup; the rest of ON is checked on the row found.
-- The key is INT and the stream attribute LONG: keys compare by value.
CREATE TABLE Accounts (id INT, owner STRING, active BOOL, PRIMARY KEY (id));
CREATE STREAM Opened (id INT, owner STRING, active BOOL);
CREATE STREAM Payments (account LONG, amount DOUBLE);
INSERT INTO Accounts SELECT id, owner, active FROM Opened;
INSERT INTO Ok SELECT p.account, a.owner, p.amount
FROM Payments AS p JOIN Accounts AS a ON a.id = p.account AND a.active = true;
