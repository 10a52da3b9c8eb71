// Statements the custom SQL box must accept (and MariaDB must run) against the articles table.
// One per line; `\n` is a newline and `\u{XXXX}` a Unicode character.
select * from articles
SELECT OBJECTID, Title FROM articles WHERE Sentence LIKE '%delta%' ORDER BY OBJECTID LIMIT 10
select OBJECTID from articles limit 5
select OBJECTID from articles limit 2, 5
select OBJECTID from articles limit 5 offset 2
select count(*) from articles
select count(*) as n, Source from articles group by Source order by n desc
select Source, count(*) from articles group by Source having count(*) > 1
select distinct Source from articles
select * from covid.articles where OBJECTID < 10
select * from `articles` where `OBJECTID` between 1 and 20
select a.OBJECTID, b.Title from articles a join articles b on a.OBJECTID = b.OBJECTID limit 3
select a.OBJECTID from articles a left join articles b on b.OBJECTID = a.OBJECTID + 1 where b.OBJECTID is null
select * from articles where OBJECTID in (select OBJECTID from articles where Title like 'A%')
select * from articles where exists (select 1 from articles b where b.OBJECTID = articles.OBJECTID)
with recent as (select * from articles order by OBJECTID desc limit 10) select OBJECTID from recent
with recursive n(i) as (select 1 union all select i + 1 from n where i < 10) select i from n
select OBJECTID from articles where OBJECTID < 5 union select OBJECTID from articles where OBJECTID > 2990
select OBJECTID from articles where OBJECTID < 5 union all select 1
select 1
select 1;
select 1; -- bye
select 1 ; /* bye */
select 1 -- a comment\n, 2
select 1 # a comment\n, 2
select /* inline */ 1
select 1 - -1
select 'it''s', 'a\'b', "double ""quoted""", 'back\\slash'
select 'percent % and underscore _', 'tab\there'
select 'ünïcödé ✓ 日本語', '\u{a0}inside quotes is data'
select '/*! not a comment inside quotes */', '-- nor this', '# nor this', 'nor ; this'
select `OBJECTID` as `id`, Title as "title" from articles limit 1
select concat(Title, ' — ', Source) from articles limit 3
select upper(Title), lower(Source), length(Sentence), substring(Title, 1, 10) from articles limit 3
select cast(OBJECTID as char), cast('12' as unsigned) from articles limit 2
select case when OBJECTID % 2 = 0 then 'even' else 'odd' end as parity from articles limit 4
select if(OBJECTID > 100, 'big', 'small') from articles limit 2
select coalesce(null, Title) from articles limit 2
select OBJECTID, row_number() over (order by OBJECTID desc) as rn from articles limit 5
select Source, avg(length(Title)) from articles group by Source
select max(OBJECTID), min(OBJECTID), sum(OBJECTID) from articles
select * from articles where Title regexp '^[A-Z]' limit 3
select * from articles where Sentence like '%50\%%' limit 3
select json_object('id', OBJECTID) from articles limit 2
select now() is not null, current_date() is not null
select round(3.14159, 2), 10 / 3, 7 div 2, 2 * 3
select version() is not null
select database()
select * from (select OBJECTID from articles limit 10) t where t.OBJECTID > 3
select 1 from dual
select 0x41, x'42', b'1'
select null, true, false
select OBJECTID from articles order by OBJECTID desc limit 100000
