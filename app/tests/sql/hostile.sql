// Statements the custom SQL box must refuse: one per line. `\n` is a newline and `\u{XXXX}` a Unicode
// character, so control characters and odd whitespace can be written down. Grouped by the trick they use.
// -- writes and other statement kinds
delete from articles
DELETE FROM articles WHERE 1=1
update articles set Title = 'x'
insert into articles (OBJECTID) values (1)
replace into articles (OBJECTID) values (1)
drop table articles
DROP DATABASE covid
truncate table articles
alter table articles add column x int
create table t (a int)
create table t as select * from articles
rename table articles to a2
grant all on *.* to 'x'@'%'
revoke select on covid.* from 'x'@'%'
set @a = 1
SET GLOBAL max_connections = 1
set names latin1
use mysql
call some_procedure()
do sleep(5)
handler articles open
load data infile '/etc/passwd' into table articles
lock tables articles write
unlock tables
flush privileges
kill 1
shutdown
show databases
show grants
describe articles
explain select * from articles
analyze table articles
optimize table articles
prepare s from 'select 1'
execute s
start transaction
commit
begin
savepoint a
xa start 'x'
install plugin x soname 'x.so'
create user x identified by 'y'
create procedure p() select 1
create function f() returns int return 1
create trigger t before insert on articles for each row set @a = 1
create event e on schedule every 1 second do delete from articles
create view v as select 1
// -- WITH that writes
with x as (select 1) insert into articles (OBJECTID) select * from x
with x as (select 1) update articles set Title = 'x'
with x as (select 1) delete from articles
WITH a AS (SELECT OBJECTID FROM articles) DELETE FROM articles WHERE OBJECTID IN (SELECT OBJECTID FROM a)
with recursive r as (select 1) insert into articles (OBJECTID) select * from r
// -- multiple statements
select 1; select 2
select 1; delete from articles
select 1;delete from articles
select 1 ; drop table articles ;
select 1;\ndrop table articles
select 'a'; update articles set Title='x'
select 1; -- comment\nselect 2
select 1; /* c */ select 2
select ";" ; select 2
select 1;;select 2
// -- executable comments, MySQL and MariaDB forms, any case and version
select 1 /*! ; drop table articles */
select 1 /*!50000 , sleep(5) */
select /*!50000 sleep(5), */ 1
select 1 /*M! , sleep(5) */
select 1 /*M!100000 , sleep(5) */
select 1 /*m!100000 , sleep(5) */
select 1 /*!*/
/*!select*/ 1
select * from articles /*!for update*/
select * from articles /*! into outfile '/tmp/x' */
select 1 /*!80000 into @a */
SELECT 1 /*!32302 , BENCHMARK(1000000, MD5(1)) */
select 1 /*!\n, sleep(1) */
select /*!40001 SQL_NO_CACHE */ sleep(1)
// -- optimizer hints and nested comments
select /*+ MAX_EXECUTION_TIME(100000000) */ 1
SELECT /*+ SET_VAR(sql_mode='') */ 1
select 1 /* outer /* inner */ , sleep(5) */
select 1 /* unterminated
select 1 /* a */ /* b
// -- comment markers the server reads differently from a parser
select 1 --\u{a0}, sleep(5)
select 1 --\u{2003}, sleep(5)
select 1 --\u{3000}, sleep(5)
select 1 --\u{85}, sleep(5)
select 1 --\u{2028}, sleep(5)
select 1 --\u{feff}, sleep(5)
select 1 --, sleep(5)
select 1 --x
select 1--1
select 1 --
select 1 -\u{a0}- x
// -- non-ASCII whitespace and invisible characters outside quotes
select\u{a0}1
select\u{2003}sleep(5)
select 1\u{3000}from articles
select\u{200b}1
select 1 from\u{feff} articles
select\u{2028}1
select\u{1680}1
select\u{202f}1
select\u{205f}1
ｓｅｌｅｃｔ 1
select ＊ from articles
select 1 ＃ comment
select sleep\u{ff08}5\u{ff09}
// -- control characters
select 1\u{0}
select '\u{0}'
select 1\u{1a}; drop table articles
select 1 \u{b} from articles
select 1 \u{c} from articles
select 1\u{1b}
select '\u{7}'
// -- INTO variables, files and tables
select 1 into @a
select OBJECTID into @x from articles limit 1
select * from articles into outfile '/tmp/x'
select * into outfile '/tmp/x' from articles
select * from articles into dumpfile '/tmp/x'
select 'x' into dumpfile '/var/lib/mysql/x'
select 1, 2 into @a, @b
SELECT 1 INTO @`a`
select * from (select 1 into @a) t
select 1 union select 2 into @a
select * into newtable from articles
// -- locking clauses
select * from articles for update
select * from articles FOR UPDATE NOWAIT
select * from articles for update skip locked
select * from articles for share
select * from articles lock in share mode
select * from articles where OBJECTID in (select OBJECTID from articles for update)
select * from (select * from articles for update) t
with x as (select * from articles for update) select * from x
SELECT * FROM articles FOR UPDATE OF articles
// -- functions that sleep, lock, wait, read files or write
select sleep(5)
SELECT SLEEP(5)
select SlEeP(5)
select `sleep`(5)
select sleep (5)
select benchmark(100000000, md5('a'))
select get_lock('a', 10)
select release_lock('a')
select release_all_locks()
select is_free_lock('a')
select is_used_lock('a')
select load_file('/etc/passwd')
select LOAD_FILE(0x2f6574632f706173737764)
select master_pos_wait('log', 4)
select source_pos_wait('log', 4)
select master_gtid_wait('0-1-1', 10)
select wait_for_executed_gtid_set('x', 1)
select last_insert_id(5)
select nextval(s)
select setval(s, 1)
select * from articles where sleep(1) = 0
select * from articles order by sleep(1)
select * from articles group by OBJECTID having sleep(1)
select (select sleep(5))
select * from articles where OBJECTID = (select benchmark(10, 1))
select if(1, sleep(5), 0)
select case when 1 then sleep(5) end
select coalesce(null, sleep(5))
select sleep(5) from dual
with x as (select sleep(5)) select * from x
select 1 union select sleep(5)
select * from articles join (select sleep(1) s) t on 1
select covid.sleep(1)
select mysql.some_udf(1)
select sys_exec('id')
select sys_eval('id')
// -- variables and assignment
select @@version
select @@global.secure_file_priv
select @a
select @a := 1
select * from articles where OBJECTID = @id
select @`a`
select (@a := OBJECTID) from articles
select @@hostname
// -- other databases and system schemas
select * from mysql.user
select * from information_schema.tables
select * from INFORMATION_SCHEMA.PROCESSLIST
select * from performance_schema.threads
select * from sys.processlist
select * from `mysql`.`user`
select * from other_db.articles
select * from articles a join mysql.user u on 1
select (select count(*) from mysql.user)
select * from articles where OBJECTID in (select 1 from information_schema.tables)
with x as (select * from mysql.db) select * from x
select * from a.b.c
// -- placeholders, bad LIMITs, dialect extensions
select * from articles where OBJECTID = ?
select * from articles limit ?
select * from articles limit @a
select * from articles limit 1+1
select * from articles limit -1
select * from articles fetch first 5 rows only
select * from articles limit 5 by OBJECTID
// -- quoting and escaping tricks
select 'unterminated
select "unterminated
select `unterminated
select 'a\\' ; drop table articles; -- '
select 'a'' ; drop table articles
select 1 from articles where Title = 'x\\'; delete from articles; #'
select "a\\"; drop table articles; #"
select `a``; drop table articles
// -- parses, but only as something else or not at all
selec 1
select
select * from
(select 1
select 1)
select 1 union
