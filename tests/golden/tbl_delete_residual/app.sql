-- DELETE removes every matching row: key lookup plus the rest of ON.
CREATE TABLE Sessions (id INT, user STRING, started LONG, PRIMARY KEY (id), INDEX (user));
CREATE STREAM Start (id INT, user STRING, started LONG);
CREATE STREAM Logout (user STRING, before LONG);
CREATE STREAM Dump (n INT);
INSERT INTO Sessions SELECT id, user, started FROM Start;
DELETE FROM Sessions USING Logout AS l ON Sessions.user = l.user AND Sessions.started < l.before;
INSERT INTO Rows SELECT d.n, s.id, s.user FROM Dump AS d JOIN Sessions AS s;
