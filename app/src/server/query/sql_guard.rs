//! Custom read-only SQL: what a user typed becomes one bounded SELECT, or a refusal that says why.
//!
//! The parser is not the database, so three layers keep what runs equal to what was checked:
//! 1. a lexer that reads the text the way MySQL and MariaDB do (quotes with backslash escapes, `#`, `-- `,
//!    `/* */`) and refuses whatever the two could read differently: executable comments `/*! */` and
//!    `/*M! */`, optimizer hints, nested comments, non-ASCII characters or control characters outside quotes,
//!    and anything after a `;`;
//! 2. sqlparser (MySQL dialect, literals kept exactly as typed) and a walk over the whole tree: one SELECT,
//!    no INTO, no locking clause, no variables, no function that sleeps, locks, waits, writes or reads files,
//!    only tables of the application's database;
//! 3. the text that runs is the tree printed back (so no comment survives), with its LIMIT added or capped;
//!    it must parse back to the same tree and carry the same string literals, byte for byte.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, LimitClause, ObjectName, Query, Select, SetExpr, Statement, Value, Visit, Visitor};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::{Parser, ParserOptions};

/// Longer text than this is refused before any parsing.
pub const MAX_SQL_BYTES: usize = 10_000;

/// Functions that sleep, take or wait for locks, read the server's files, or change state.
const FORBIDDEN_FUNCTIONS: &[&str] = &[
    "sleep",
    "benchmark",
    "get_lock",
    "release_lock",
    "release_all_locks",
    "is_free_lock",
    "is_used_lock",
    "load_file",
    "master_pos_wait",
    "source_pos_wait",
    "master_gtid_wait",
    "wait_for_executed_gtid_set",
    "wait_until_sql_thread_after_gtids",
    "last_insert_id",
    "nextval",
    "setval",
    "lastval",
    "sys_exec",
    "sys_eval",
    "sys_get",
    "sys_set",
    "load_data",
    "lo_import",
    "lo_export",
    "pg_sleep",
    "waitfor",
];

/// Schemas that describe the server rather than the application's data.
const SYSTEM_SCHEMAS: &[&str] = &["mysql", "information_schema", "performance_schema", "sys"];

/// A statement that passed every check, ready to run as is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardedSql {
    /// The canonical text sent to the database, with its LIMIT.
    pub sql: String,
}

/// Why a statement was refused, in words meant for the person who typed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn refuse<T>(why: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(why.into()))
}

/// Checks `input` for reading from `database` and returns the statement to run, with at most `max_rows` rows.
pub fn check(input: &str, database: &str, max_rows: u64) -> Result<GuardedSql, Refusal> {
    if input.len() > MAX_SQL_BYTES {
        return refuse(format!("the statement is longer than {MAX_SQL_BYTES} bytes"));
    }
    if input.trim().is_empty() {
        return refuse("the statement is empty");
    }
    let lexed = lex(input)?;
    named_hazards(&lexed)?;
    let mut statement = parse_one(input)?;
    if !matches!(statement, Statement::Query(_)) {
        return refuse(format!("only SELECT is allowed, this is {}", statement_kind(&statement)));
    }
    if let ControlFlow::Break(refusal) = statement.visit(&mut ReadOnly { database }) {
        return Err(refusal);
    }
    let Statement::Query(query) = &mut statement else { unreachable!("checked above") };
    cap_limit(query, max_rows)?;

    let sql = statement.to_string();
    // Printing must not change meaning: the printed text lexes the same way, parses to the same tree, and
    // hands MySQL every string literal exactly as the user wrote it.
    let printed = lex(&sql).map_err(|r| Refusal(format!("cannot print the statement safely: {r}")))?;
    let reparsed = parse_one(&sql).map_err(|r| Refusal(format!("cannot print the statement safely: {r}")))?;
    if reparsed != statement {
        return refuse("cannot print the statement safely: it parses differently once printed");
    }
    if printed.literals != lexed.literals {
        return refuse("a string literal cannot be passed on exactly as written: simplify its escapes");
    }
    Ok(GuardedSql { sql })
}

fn parse_one(sql: &str) -> Result<Statement, Refusal> {
    let dialect = MySqlDialect {};
    let options = ParserOptions::new().with_unescape(false);
    let mut statements = Parser::new(&dialect)
        .with_options(options)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| Refusal(format!("not valid SQL: {e}")))?;
    match statements.len() {
        1 => Ok(statements.remove(0)),
        0 => refuse("the statement is empty"),
        n => refuse(format!("exactly one statement is allowed, found {n}")),
    }
}

fn statement_kind(statement: &Statement) -> String {
    let text = statement.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    format!("{} …", words.join(" "))
}

/// What the lexer saw: string literals as written (without quotes) and the words of code outside quotes
/// and comments, upper-cased.
#[derive(Debug, Default, PartialEq)]
struct Lexed {
    literals: Vec<String>,
    words: Vec<String>,
}

/// Reads `sql` as MySQL's own lexer does. Refuses every construct where sqlparser and the server could
/// disagree about what is code.
fn lex(sql: &str) -> Result<Lexed, Refusal> {
    let chars: Vec<(usize, char)> = sql.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let mut out = Lexed::default();
    let mut word = String::new();
    // Set by `;`: from there on only whitespace and comments may follow.
    let mut ended = false;
    let mut i = 0;
    while let Some(c) = at(i) {
        let offset = chars[i].0;
        if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
            word.push(c.to_ascii_uppercase());
        } else if !word.is_empty() {
            out.words.push(std::mem::take(&mut word));
        }
        if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
            return refuse(format!("control character U+{:04X} at byte {offset}", c as u32));
        }
        if ended && !c.is_ascii_whitespace() && !matches!(c, '#' | '-' | '/') {
            return refuse("exactly one statement is allowed: nothing may follow `;`");
        }
        match c {
            '\'' | '"' | '`' => {
                let start = i + 1;
                let mut j = start;
                loop {
                    match at(j) {
                        None => return refuse(format!("unterminated {c}…{c} starting at byte {offset}")),
                        Some(q) if q.is_control() && !matches!(q, '\t' | '\n' | '\r') => {
                            return refuse(format!("control character U+{:04X} inside a quoted text", q as u32));
                        }
                        // Backslash escapes exist in strings, not in backquoted names.
                        Some('\\') if c != '`' => j += 2,
                        Some(q) if q == c && at(j + 1) == Some(c) => j += 2,
                        Some(q) if q == c => break,
                        Some(_) => j += 1,
                    }
                }
                // x'41' and b'1' are numbers written in hex and binary (sqlparser prints 0x41 as X'41').
                let prefix = out.words.last().filter(|_| i > 0 && chars[i - 1].1.is_ascii_alphabetic());
                let number = c == '\'' && prefix.is_some_and(|w| w == "X" || w == "B");
                if c != '`' && !number {
                    out.literals.push(chars[start..j].iter().map(|&(_, c)| c).collect());
                }
                i = j + 1;
            }
            '#' => i = skip_line(&chars, i),
            '-' if at(i + 1) == Some('-') => match at(i + 2) {
                // MySQL needs a space or control character after `--` for a comment; anything else is two minuses.
                Some(' ' | '\t' | '\n' | '\r') => i = skip_line(&chars, i),
                None => return refuse("`--` at the end of the statement: remove it"),
                Some(_) => return refuse(format!("`--` at byte {offset} without a space after it: write `- -` for two minuses")),
            },
            '/' if at(i + 1) == Some('*') => {
                match (at(i + 2), at(i + 3)) {
                    (Some('!'), _) | (Some('M' | 'm'), Some('!')) => {
                        return refuse(format!(
                            "executable comment at byte {offset}: MySQL and MariaDB run what /*! … */ and /*M! … */ hold"
                        ))
                    }
                    (Some('+'), _) => return refuse(format!("optimizer hint at byte {offset}: hints are not accepted")),
                    _ => {}
                }
                let mut j = i + 2;
                loop {
                    match (at(j), at(j + 1)) {
                        (None, _) | (_, None) => return refuse(format!("unterminated comment starting at byte {offset}")),
                        (Some('*'), Some('/')) => break,
                        (Some('/'), Some('*')) => return refuse(format!("nested comment at byte {}", chars[j].0)),
                        _ => j += 1,
                    }
                }
                i = j + 2;
            }
            _ if ended && !c.is_ascii_whitespace() => return refuse("exactly one statement is allowed: nothing may follow `;`"),
            ';' => {
                ended = true;
                i += 1;
            }
            c if !c.is_ascii() => {
                let kind = if c.is_whitespace() { "non-ASCII whitespace" } else { "non-ASCII character" };
                return refuse(format!("{kind} U+{:04X} at byte {offset} outside quotes: quote names with backquotes", c as u32));
            }
            _ => i += 1,
        }
    }
    if !word.is_empty() {
        out.words.push(word);
    }
    Ok(out)
}

fn skip_line(chars: &[(usize, char)], mut i: usize) -> usize {
    while i < chars.len() && chars[i].1 != '\n' {
        i += 1;
    }
    i
}

/// Clauses sqlparser does not know, named here so the refusal says what they do rather than "not valid SQL".
fn named_hazards(lexed: &Lexed) -> Result<(), Refusal> {
    let has = |seq: &[&str]| lexed.words.windows(seq.len()).any(|w| w.iter().zip(seq).all(|(a, b)| a == b));
    if has(&["INTO", "OUTFILE"]) || has(&["INTO", "DUMPFILE"]) {
        return refuse("SELECT … INTO OUTFILE/DUMPFILE writes files on the server: not allowed");
    }
    if has(&["LOCK", "IN", "SHARE", "MODE"]) || has(&["FOR", "UPDATE"]) || has(&["FOR", "SHARE"]) {
        return refuse("locking clauses (FOR UPDATE, FOR SHARE, LOCK IN SHARE MODE) are not allowed");
    }
    Ok(())
}

/// Walks every node of the statement, subqueries and CTEs included.
struct ReadOnly<'a> {
    database: &'a str,
}

impl Visitor for ReadOnly<'_> {
    type Break = Refusal;

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<Refusal> {
        match statement {
            Statement::Query(_) => ControlFlow::Continue(()),
            other => ControlFlow::Break(Refusal(format!("only SELECT is allowed, found {}", statement_kind(other)))),
        }
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<Refusal> {
        if !query.locks.is_empty() {
            return stop("locking clauses (FOR UPDATE, FOR SHARE, LOCK IN SHARE MODE) are not allowed");
        }
        if query.for_clause.is_some() {
            return stop("FOR XML / FOR JSON / FOR BROWSE clauses are not allowed");
        }
        if query.fetch.is_some() {
            return stop("FETCH FIRST is not MySQL: use LIMIT");
        }
        if query.settings.is_some() || query.format_clause.is_some() || !query.pipe_operators.is_empty() {
            return stop("SETTINGS, FORMAT and pipe operators are not MySQL");
        }
        self.set_expr_reads_only(&query.body)
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<Refusal> {
        if select.into.is_some() {
            return stop("SELECT … INTO writes into variables, files or tables: not allowed");
        }
        if !select.optimizer_hints.is_empty() {
            return stop("optimizer hints are not accepted");
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<Refusal> {
        let parts: Vec<String> = relation.0.iter().map(|p| p.as_ident().map(|i| i.value.clone()).unwrap_or_default()).collect();
        match parts.as_slice() {
            [_table] => ControlFlow::Continue(()),
            [schema, _table] => self.schema_allowed(schema),
            _ => stop(format!("cannot read {relation}: name tables as table or database.table")),
        }
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<Refusal> {
        match expr {
            Expr::Function(f) => {
                let name = f.name.0.last().and_then(|p| p.as_ident()).map(|i| i.value.to_ascii_lowercase()).unwrap_or_default();
                if FORBIDDEN_FUNCTIONS.contains(&name.as_str()) {
                    return stop(format!(
                        "{}() is not allowed: it sleeps, locks, waits, writes or reads server files",
                        name.to_ascii_uppercase()
                    ));
                }
                if f.name.0.len() > 1 {
                    return stop(format!("{}: stored functions are not allowed", f.name));
                }
            }
            Expr::Identifier(id) if id.quote_style.is_none() && id.value.starts_with('@') => return variables(),
            Expr::CompoundIdentifier(ids) if ids.first().is_some_and(|i| i.quote_style.is_none() && i.value.starts_with('@')) => {
                return variables()
            }
            Expr::BinaryOp { op: sqlparser::ast::BinaryOperator::Assignment, .. } => return variables(),
            Expr::Value(v) if matches!(v.value, Value::Placeholder(_)) => {
                return stop("placeholders (?) are not allowed: write the values into the statement")
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

impl ReadOnly<'_> {
    /// Only the application's own tables: a system schema or another database is refused.
    fn schema_allowed(&self, schema: &str) -> ControlFlow<Refusal> {
        if SYSTEM_SCHEMAS.iter().any(|s| s.eq_ignore_ascii_case(schema)) || !schema.eq_ignore_ascii_case(self.database) {
            return stop(format!("only tables of the `{}` database can be read, not `{schema}`", self.database));
        }
        ControlFlow::Continue(())
    }

    /// `WITH … INSERT/UPDATE/DELETE` parses as a query whose body writes. MySQL 8's `TABLE t` and `VALUES ROW(…)`
    /// are whole queries too, and sqlparser keeps the table of `TABLE db.t` as plain names the relation walk
    /// never sees, so the schema is checked here (and `VALUES`, which reads nothing, is not needed).
    fn set_expr_reads_only(&self, body: &SetExpr) -> ControlFlow<Refusal> {
        match body {
            SetExpr::Select(_) | SetExpr::Query(_) => ControlFlow::Continue(()),
            SetExpr::Table(table) => match (&table.schema_name, &table.table_name) {
                (_, None) => stop("TABLE needs a table name"),
                (Some(schema), Some(_)) => self.schema_allowed(&schema.value),
                (None, Some(_)) => ControlFlow::Continue(()),
            },
            SetExpr::Values(_) => stop("VALUES as a query is not accepted: write SELECT"),
            SetExpr::SetOperation { left, right, .. } => {
                self.set_expr_reads_only(left)?;
                self.set_expr_reads_only(right)
            }
            SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
                stop("WITH … INSERT/UPDATE/DELETE/MERGE writes: only SELECT is allowed")
            }
        }
    }
}

fn stop(why: impl Into<String>) -> ControlFlow<Refusal> {
    ControlFlow::Break(Refusal(why.into()))
}

fn variables() -> ControlFlow<Refusal> {
    stop("user and system variables (@x, @@x, :=) are not allowed")
}

/// Adds `LIMIT max_rows`, or lowers a larger one, on the outermost query.
fn cap_limit(query: &mut Query, max_rows: u64) -> Result<(), Refusal> {
    let max = || Expr::value(Value::Number(max_rows.to_string(), false));
    let number = |e: &Expr| match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, false) => n.parse::<u64>().ok(),
            _ => None,
        },
        _ => None,
    };
    let slot = match &mut query.limit_clause {
        None => {
            query.limit_clause = Some(LimitClause::LimitOffset { limit: Some(max()), offset: None, limit_by: vec![] });
            return Ok(());
        }
        Some(LimitClause::LimitOffset { limit_by, .. }) if !limit_by.is_empty() => return refuse("LIMIT … BY is not MySQL"),
        Some(LimitClause::LimitOffset { limit: limit @ None, .. }) => {
            *limit = Some(max());
            return Ok(());
        }
        Some(LimitClause::LimitOffset { limit: Some(limit), .. }) | Some(LimitClause::OffsetCommaLimit { limit, .. }) => limit,
    };
    match number(slot) {
        Some(n) if n <= max_rows => Ok(()),
        Some(_) => {
            *slot = max();
            Ok(())
        }
        None => refuse(format!("LIMIT must be a whole number, got {slot}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DB: &str = "covid";

    #[test]
    fn limit_is_added_or_capped() {
        let g = check("select OBJECTID from articles", DB, 100).unwrap();
        assert_eq!(g.sql, "SELECT OBJECTID FROM articles LIMIT 100");
        assert_eq!(check("select 1 limit 7", DB, 100).unwrap().sql, "SELECT 1 LIMIT 7");
        assert_eq!(check("select 1 limit 7000", DB, 100).unwrap().sql, "SELECT 1 LIMIT 100");
        assert_eq!(check("select 1 limit 5, 7000", DB, 100).unwrap().sql, "SELECT 1 LIMIT 5, 100");
        assert_eq!(check("select 1 union select 2", DB, 10).unwrap().sql, "SELECT 1 UNION SELECT 2 LIMIT 10");
    }

    #[test]
    fn comments_never_reach_the_database_and_literals_pass_unchanged() {
        let g = check("select 'a\\'b', \"c\"\"d\", 'x' /* note */ -- trailing\n from articles # end", DB, 5).unwrap();
        assert_eq!(g.sql, "SELECT 'a\\'b', \"c\"\"d\", 'x' FROM articles LIMIT 5");
    }

    #[test]
    fn refusals_name_their_reason() {
        let why = |sql: &str| check(sql, DB, 10).unwrap_err().0;
        assert!(why("select sleep(1)").contains("SLEEP()"));
        assert!(why("select 1; select 2").contains("one statement"));
        assert!(why("select 1 /*! ; drop table articles */").contains("executable comment"));
        assert!(why("select 1 /*M!100000 , sleep(5) */").contains("executable comment"));
        assert!(why("select 1 --\u{a0}x").contains("`--`"));
        assert!(why("select\u{a0}1").contains("non-ASCII whitespace U+00A0"));
        assert!(why("with x as (select 1) insert into t select * from x").contains("writes"));
        assert!(why("select * from articles for update").contains("locking"));
        assert!(why("select 1 into @a").contains("INTO"));
        assert!(why("select * from mysql.user").contains("`covid` database"));
        assert!(why("delete from articles").contains("only SELECT"));
        assert!(why("select @@version").contains("variables"));
    }

    /// MySQL 8.0.19+ reads `TABLE db.t` like `SELECT * FROM db.t`; MariaDB only says "syntax error", so the guard
    /// itself must refuse what names another schema, wherever the form sits. (sqlparser takes `TABLE` only
    /// inside a statement; one standing alone is refused as not valid SQL.)
    #[test]
    fn table_and_values_queries_follow_the_schema_rule() {
        let why = |sql: &str| check(sql, DB, 10).unwrap_err().0;
        for (sql, schema) in [
            ("select * from (table mysql.user) as t", "mysql"),
            ("select 1 union table mysql.user", "mysql"),
            ("select * from articles where OBJECTID in (table information_schema.tables)", "information_schema"),
            ("with x as (table performance_schema.threads) select * from x", "performance_schema"),
            ("select (select 1 from articles union table sys.version) as v", "sys"),
            ("select 1 union table other_db.articles", "other_db"),
        ] {
            assert_eq!(why(sql), format!("only tables of the `covid` database can be read, not `{schema}`"), "{sql}");
        }
        assert!(why("table mysql.user").contains("not valid SQL"));
        assert_eq!(check("select 1 union table covid.articles", DB, 10).unwrap().sql, "SELECT 1 UNION TABLE covid.articles LIMIT 10");
        assert!(check("select * from (table articles) t", DB, 10).is_ok());
        for sql in ["values row(1, 2)", "select * from (values row(1)) as v", "select 1 union values row(2)"] {
            assert_eq!(why(sql), "VALUES as a query is not accepted: write SELECT", "{sql}");
        }
    }
}
