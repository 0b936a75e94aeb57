CREATE STREAM S (i INT, d DOUBLE);
INSERT INTO Out
SELECT abs(i) AS abs_i, abs(d) AS abs_d, ceil(d) AS ceil_d, floor(d) AS floor_d,
       round(d) AS round_d, round(d, 1) AS round_d1, sqrt(abs(d)) AS sqrt_d,
       power(i, 2) AS pow_i, exp(0) AS exp0, ln(1.0) AS ln1, log10(1000) AS log10_, log(2, 8) AS log2_8, log(100.0) AS log_nat,
       sign(i) AS sign_i, sign(d) AS sign_d, mod(i, 3) AS mod_i, greatest(i, d, 0) AS gr, least(i, d, 0) AS le
FROM S;
