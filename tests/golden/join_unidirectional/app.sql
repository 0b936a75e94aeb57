-- UNIDIRECTIONAL: only that side's arrivals trigger; the other side's arrivals are retained in
-- its window but emit nothing.
CREATE STREAM Clicks (user STRING, page STRING);
CREATE STREAM Profiles (user STRING, country STRING);
INSERT INTO Enriched
SELECT c.user, c.page, p.country
FROM Clicks AS c UNIDIRECTIONAL JOIN Profiles WINDOW('unique', user) AS p ON c.user = p.user;
