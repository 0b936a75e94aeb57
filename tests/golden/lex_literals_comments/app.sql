/* block comment
   spanning lines */
create stream "Quoted Stream" (`my attr` STRING, Name string, name INT); -- identifiers are case-sensitive
Insert Into Out
select `my attr` AS a, Name, name,
       'it''s' AS apos, "dq" AS dq, 42 AS lng, 42L AS lng2, 3.5 AS dbl, 3.5f AS flt,
       TRUE AS t, false AS f, NULL AS n, `Quoted Stream`.name + 1 AS qualified
FROM "Quoted Stream";
