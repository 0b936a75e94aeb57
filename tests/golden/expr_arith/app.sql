CREATE STREAM S (i INT, l LONG, f FLOAT, d DOUBLE);
INSERT INTO Out
SELECT i + i AS ii, i + l AS il, i + f AS iff, i + d AS id, l * f AS lf, f * d AS fd,
       i / 2 AS idiv, -i / 2 AS ineg, l / 3 AS ldiv, i % 3 AS imod, -i % 3 AS inegmod,
       d / 2 AS ddiv, i / 0 AS izero, i % 0 AS imodzero, l / 0L AS lzero
FROM S;
