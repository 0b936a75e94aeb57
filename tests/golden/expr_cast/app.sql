CREATE STREAM S (s STRING, d DOUBLE, i INT, b BOOL);
INSERT INTO Out
SELECT CAST(s AS INT) AS s_int, CAST(s AS DOUBLE) AS s_dbl, CAST(s AS BOOL) AS s_bool,
       CAST(d AS INT) AS d_int, CAST(d AS LONG) AS d_long, CAST(d AS STRING) AS d_str,
       CAST(i AS DOUBLE) AS i_dbl, CAST(i AS STRING) AS i_str, CAST(i AS FLOAT) AS i_flt,
       CAST(b AS STRING) AS b_str
FROM S;
