CREATE STREAM S (s STRING, t STRING);
INSERT INTO Out
SELECT upper(s) AS up, lower(s) AS low, length(s) AS len, trim(t) AS tr, ltrim(t) AS ltr, rtrim(t) AS rtr,
       substring(s, 2) AS sub2, substring(s, 2, 3) AS sub23, concat(s, '-', t) AS cc, s || '/' || s AS bars,
       replace(s, 'l', 'L') AS rep, starts_with(s, 'He') AS sw, ends_with(s, 'lo') AS ew, contains(s, 'ell') AS ct,
       regex_match(s, '^H.*o$') AS rx, lpad(s, 8, '*') AS lp, rpad(s, 7, '.') AS rp
FROM S;
