create stream S (x int, s string);
insert into Out
select UPPER(s) as u, Upper(s) as u2, cast(x as double) as d, case when x is not null then '--not a comment' else '/* nor this */' end as c,
       x between 1 and 2 as b, s like 'a%' as l, x in (1) as i, not true as n, coalesce(s, 'x') || ';' as semi
from S where x is null or x >= 0; -- trailing comment
/* final comment */
