-- extension = 'cache' with max_size: an in-memory table bounded to max_size rows, the oldest
-- inserted row evicted first. Replacing a row by key keeps its place (and its age).
CREATE TABLE Recent (id INT, v STRING, PRIMARY KEY (id)) WITH (extension = 'cache', max_size = '2');
CREATE STREAM Feed (id INT, v STRING);
CREATE STREAM Dump (n INT);
INSERT INTO Recent SELECT id, v FROM Feed;
INSERT INTO Rows SELECT d.n, r.id, r.v FROM Dump AS d JOIN Recent AS r;
