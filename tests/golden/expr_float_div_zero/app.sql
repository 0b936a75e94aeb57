CREATE STREAM S (d DOUBLE, f FLOAT, i INT);
-- IEEE inside the engine: +/-Infinity and NaN are values (not NULL);
-- JSON cannot encode them, so they are written as null on output.
INSERT INTO Out
SELECT d / 0.0 AS pinf, -d / 0.0 AS ninf, 0.0 / 0.0 AS nan, f / 0.0f AS finf, i / 0.0 AS iinf,
       d % 0.0 AS dmod,
       (d / 0.0) IS NULL AS inf_is_null, (d / 0.0) > 1000000.0 AS inf_big, -d / 0.0 < 0.0 AS ninf_neg,
       (0.0 / 0.0) = (0.0 / 0.0) AS nan_eq
FROM S;
