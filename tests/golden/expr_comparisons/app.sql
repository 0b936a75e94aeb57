CREATE STREAM S (i INT, l LONG, f FLOAT, d DOUBLE, s STRING, b BOOL, t TIMESTAMP);
INSERT INTO Out
SELECT i = d AS i_eq_d, i == l AS i_eq_l, f = d AS f_eq_d, l < f AS l_lt_f, i <> 2 AS i_ne, i != 1 AS i_ne2,
       s < 'b' AS s_lt, s >= 'B' AS s_ge, s = 'a' AS s_eq, b = TRUE AS b_eq, b <> FALSE AS b_ne,
       t > 1000 AS t_gt, t = l AS t_eq_l
FROM S;
