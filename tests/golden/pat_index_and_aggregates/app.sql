CREATE STREAM A (id STRING, v INT);
CREATE STREAM B (id STRING, v INT);
CREATE STREAM C (id STRING, v INT);

INSERT INTO Out
SELECT e1[0].v AS i0, e1[1].v AS i1, e1[last].v AS il, e1[last-1].v AS il1,
       e1[last-2].v AS il2, e1[last-3].v AS il3, e1[4].v AS i4, e1.v AS plain,
       count(e1) AS n, sum(e1.v) AS s, avg(e1.v) AS av, min(e1.v) AS lo, max(e1.v) AS hi
FROM PATTERN (e1=A{2,5} -> e2=B);
