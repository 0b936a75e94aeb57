//! Recursive-descent parser for EventFlux apps (expressions use a Pratt parser).
//!
//! The parser never panics. A syntax error records a [`Diagnostic`] at the offending token and
//! abandons the current statement; parsing resumes after the next `;` that ends it (or at the
//! `END` of the enclosing `PARTITION` block), so every broken statement of an app is reported.
//!
//! Submodules: `expr` (expressions), `lit` (names, durations, types), `query` (queries, FROM,
//! windows, joins, output clauses), `pattern` (`FROM PATTERN/SEQUENCE`), `stmt` (definitions,
//! options, annotations, UPDATE/DELETE, partitions). Tests: `tests`, `tests_expr`,
//! `tests_pattern`, and `crates/sql/tests/fuzz_parser.rs` (property tests).

mod expr;
mod lit;
mod pattern;
mod query;
mod stmt;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_expr;
#[cfg(test)]
mod tests_pattern;

use crate::ast::{App, Statement};
use crate::diagnostic::{suggestion_suffix, Diagnostic};
use crate::lexer::{lex, off, Token, TokenKind};
use crate::span::Span;

pub use lit::parse_duration_text;

/// Parses a whole app. Never panics; statements with syntax errors are left out of the result
/// and described in the returned diagnostics (sorted by position).
pub fn parse(src: &str) -> (App, Vec<Diagnostic>) {
    let lexed = lex(src);
    let mut diags = lexed.diags;
    let mut p = Parser::new(src, lexed.tokens);
    let statements = p.statement_list(false);
    if let Some(cut) = lexed.unterminated {
        // Everything after an unterminated string or comment is part of it: errors there are
        // consequences of the lexical one.
        p.diags.retain(|d| d.span.start < cut);
    }
    diags.append(&mut p.diags);
    diags.sort_by_key(|d| d.span.start);
    // Two errors at the same place (an error at the end of the input inside a PARTITION block
    // also leaves the block unclosed) are one problem: keep the first.
    diags.dedup_by(|later, first| {
        later.span.start == first.span.start && later.severity == first.severity
    });
    (App { statements }, diags)
}

/// Words that cannot be used as names unquoted (nor as implicit aliases).
pub(crate) const RESERVED: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP",
    "BY",
    "HAVING",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "OUTPUT",
    "INSERT",
    "INTO",
    "WINDOW",
    "JOIN",
    "ON",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS",
    "NULL",
    "BETWEEN",
    "LIKE",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "LEFT",
    "RIGHT",
    "FULL",
    "INNER",
    "OUTER",
    "UNIDIRECTIONAL",
    "EVERY",
    "WITHIN",
    "FOR",
    "PATTERN",
    "SEQUENCE",
    "PARTITION",
    "BEGIN",
    "CREATE",
    "DEFINE",
    "STREAM",
    "TABLE",
    "TRIGGER",
    "WITH",
    "UPDATE",
    "DELETE",
    "UPSERT",
    "SET",
    "USING",
    "TRUE",
    "FALSE",
    "CAST",
    "INTERVAL",
    "DISTINCT",
    "ASC",
    "DESC",
    "EVENTS",
    "CURRENT",
    "EXPIRED",
    "ALL",
    "FIRST",
    "LAST",
    "SNAPSHOT",
    "OF",
    "AT",
];

pub(crate) fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// Words that begin a statement, for "did you mean" suggestions.
const STATEMENT_STARTS: &[&str] = &[
    "CREATE",
    "DEFINE",
    "INSERT",
    "SELECT",
    "UPSERT",
    "UPDATE",
    "DELETE",
    "PARTITION",
];

/// Maximum nesting of parentheses, sub-expressions and pattern groups.
const MAX_NESTING: u32 = 64;

/// Marker for "a diagnostic has been recorded; abandon this statement".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fail;

pub(crate) type PResult<T> = Result<T, Fail>;

pub(crate) struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    eof: Token,
    pos: usize,
    /// End offset of the last consumed token.
    prev_end: u32,
    /// Current recursion depth (see [`MAX_NESTING`]).
    nesting: u32,
    pub(crate) diags: Vec<Diagnostic>,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str, toks: Vec<Token>) -> Self {
        let end = off(src.len());
        Parser {
            src,
            toks,
            eof: Token {
                kind: TokenKind::Eof,
                text: String::new(),
                span: Span::new(end, end),
            },
            pos: 0,
            prev_end: 0,
            nesting: 0,
            diags: Vec::new(),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Token access
    // -----------------------------------------------------------------------------------------

    pub(crate) fn nth(&self, n: usize) -> &Token {
        self.toks.get(self.pos + n).unwrap_or(&self.eof)
    }

    pub(crate) fn peek(&self) -> &Token {
        self.nth(0)
    }

    pub(crate) fn kind(&self) -> TokenKind {
        self.peek().kind
    }

    pub(crate) fn nth_kind(&self, n: usize) -> TokenKind {
        self.nth(n).kind
    }

    pub(crate) fn at(&self, kind: TokenKind) -> bool {
        self.kind() == kind
    }

    pub(crate) fn at_kw(&self, kw: &str) -> bool {
        self.peek().is_kw(kw)
    }

    pub(crate) fn nth_kw(&self, n: usize, kw: &str) -> bool {
        self.nth(n).is_kw(kw)
    }

    /// Start offset of the current token.
    pub(crate) fn start(&self) -> u32 {
        self.peek().span.start
    }

    /// From `start` to the end of the last consumed token.
    pub(crate) fn span_from(&self, start: u32) -> Span {
        Span::new(start, self.prev_end.max(start))
    }

    pub(crate) fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if t.kind != TokenKind::Eof {
            self.pos += 1;
            self.prev_end = t.span.end;
        }
        t
    }

    pub(crate) fn eat(&mut self, kind: TokenKind) -> bool {
        if self.at(kind) {
            self.bump();
            true
        } else {
            false
        }
    }

    pub(crate) fn eat_kw(&mut self, kw: &str) -> bool {
        if self.at_kw(kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// Consumes a token of `kind` or fails with "expected X {context}, found Y".
    pub(crate) fn expect(&mut self, kind: TokenKind, context: &str) -> PResult<Token> {
        if self.at(kind) {
            Ok(self.bump())
        } else {
            Err(self.expected(kind.describe(), context))
        }
    }

    /// Consumes the keyword `kw` or fails with "expected KW {context}, found Y".
    pub(crate) fn expect_kw(&mut self, kw: &str, context: &str) -> PResult<Token> {
        if self.at_kw(kw) {
            Ok(self.bump())
        } else {
            Err(self.expected(kw, context))
        }
    }

    // -----------------------------------------------------------------------------------------
    // Diagnostics
    // -----------------------------------------------------------------------------------------

    /// The source text of a token, shortened for messages.
    pub(crate) fn token_text(&self, t: &Token) -> String {
        let raw = self
            .src
            .get(t.span.start as usize..t.span.end as usize)
            .unwrap_or("");
        let mut s: String = raw.chars().take(40).collect();
        if raw.chars().nth(40).is_some() {
            s.push('…');
        }
        s
    }

    /// How the current token is named in "found …".
    pub(crate) fn found(&self) -> String {
        let t = self.peek();
        match t.kind {
            TokenKind::Eof => "end of input".to_string(),
            TokenKind::String => format!("string {}", self.token_text(t)),
            _ => format!("'{}'", self.token_text(t)),
        }
    }

    /// Records an error at the current token.
    pub(crate) fn error_here(&mut self, msg: impl Into<String>) -> Fail {
        let span = self.peek().span;
        self.error_at(span, msg)
    }

    pub(crate) fn error_at(&mut self, span: Span, msg: impl Into<String>) -> Fail {
        self.diags.push(Diagnostic::error(span, msg));
        Fail
    }

    /// "expected {what} {context}, found {current token}".
    pub(crate) fn expected(&mut self, what: &str, context: &str) -> Fail {
        let sep = if context.is_empty() { "" } else { " " };
        let msg = format!("expected {what}{sep}{context}, found {}", self.found());
        self.error_here(msg)
    }

    /// When a name was expected and a keyword found: how to use the keyword as a name.
    pub(crate) fn reserved_note(&self) -> Option<String> {
        let t = self.peek();
        (t.kind == TokenKind::Ident && is_reserved(&t.text)).then(|| {
            format!(
                "help: '{}' is a keyword; to use it as a name, quote it: `{}`",
                t.text, t.text
            )
        })
    }

    /// Guards recursion: fails once [`MAX_NESTING`] levels are reached.
    pub(crate) fn enter(&mut self) -> PResult<()> {
        if self.nesting >= MAX_NESTING {
            return Err(self.error_here(format!(
                "nesting too deep (more than {MAX_NESTING} levels of parentheses or sub-expressions)"
            )));
        }
        self.nesting += 1;
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.nesting = self.nesting.saturating_sub(1);
    }

    // -----------------------------------------------------------------------------------------
    // Statements and recovery
    // -----------------------------------------------------------------------------------------

    /// Statements up to end of input, or (inside a partition block) up to the closing `END`,
    /// which is not consumed.
    pub(crate) fn statement_list(&mut self, in_block: bool) -> Vec<Statement> {
        let mut out = Vec::new();
        loop {
            while self.eat(TokenKind::Semicolon) {}
            if self.at(TokenKind::Eof) || (in_block && self.at_kw("END")) {
                break;
            }
            let start = self.pos;
            let saved = self.nesting;
            let result = self.statement(in_block);
            self.nesting = saved;
            match result {
                Ok(stmt) => {
                    if self.eat(TokenKind::Semicolon)
                        || self.at(TokenKind::Eof)
                        || (in_block && self.at_kw("END"))
                    {
                        out.push(stmt);
                    } else {
                        let _ = self.expected("';'", "after the statement");
                        self.recover(start, in_block);
                    }
                }
                Err(Fail) => self.recover(start, in_block),
            }
        }
        out
    }

    /// Skips the statement that began at token `start`: up to and including the `;` that ends
    /// it, or up to (not including) the `END` of the enclosing partition block. `CASE … END` and
    /// `PARTITION … BEGIN … END` are skipped as units, and a `;` inside parentheses is skipped
    /// too unless a new statement follows it (so a missing `)` does not swallow the app).
    fn recover(&mut self, start: usize, in_block: bool) {
        self.pos = start;
        let (mut cases, mut blocks, mut parens, mut saw_partition) = (0u32, 0u32, 0u32, false);
        loop {
            let t = self.peek();
            match t.kind {
                TokenKind::Eof => break,
                TokenKind::LParen | TokenKind::LBracket | TokenKind::LBrace => parens += 1,
                TokenKind::RParen | TokenKind::RBracket | TokenKind::RBrace => {
                    parens = parens.saturating_sub(1)
                }
                TokenKind::Semicolon if blocks > 0 => (cases, parens) = (0, 0),
                TokenKind::Semicolon if parens == 0 || self.starts_statement(1, in_block) => {
                    self.bump();
                    return;
                }
                TokenKind::Ident if t.is_kw("CASE") => cases += 1,
                TokenKind::Ident if t.is_kw("PARTITION") => saw_partition = true,
                TokenKind::Ident if t.is_kw("BEGIN") && saw_partition => blocks += 1,
                TokenKind::Ident if t.is_kw("END") => {
                    if cases > 0 {
                        cases -= 1;
                    } else if blocks > 0 {
                        blocks -= 1;
                    } else if in_block {
                        break;
                    }
                }
                _ => {}
            }
            self.bump();
        }
        if self.pos == start && !self.at(TokenKind::Eof) && !(in_block && self.at_kw("END")) {
            self.bump();
        }
    }

    /// True when token `n` can begin a statement (or end the enclosing block / the input).
    fn starts_statement(&self, n: usize, in_block: bool) -> bool {
        let t = self.nth(n);
        match t.kind {
            TokenKind::Eof | TokenKind::At => true,
            TokenKind::Ident => {
                STATEMENT_STARTS.iter().any(|k| t.is_kw(k)) || (in_block && t.is_kw("END"))
            }
            _ => false,
        }
    }

    /// One statement (without its `;`).
    fn statement(&mut self, in_block: bool) -> PResult<Statement> {
        let start = self.start();
        let annotations = self.annotations()?;
        let t = self.peek().clone();
        if t.is_kw("CREATE") || t.is_kw("DEFINE") {
            if in_block {
                return Err(self.error_here(format!(
                    "only queries, UPDATE and DELETE statements may appear inside a PARTITION \
                     block, found '{}'",
                    self.token_text(&t)
                )));
            }
            if let (Some(first), Some(last)) = (annotations.first(), annotations.last()) {
                let span = first.span.to(last.span);
                self.error_at(
                    span,
                    format!(
                        "annotations are not allowed before {} (only before queries, UPDATE, \
                         DELETE and PARTITION)",
                        self.token_text(&t).to_ascii_uppercase()
                    ),
                );
            }
            return self.create(start);
        }
        if t.is_kw("INSERT") || t.is_kw("UPSERT") || t.is_kw("SELECT") {
            return Ok(Statement::Query(self.query(annotations, start)?));
        }
        if t.is_kw("UPDATE") {
            return Ok(Statement::Update(self.update_stmt(annotations, start)?));
        }
        if t.is_kw("DELETE") {
            return Ok(Statement::Delete(self.delete_stmt(annotations, start)?));
        }
        if t.is_kw("PARTITION") {
            if in_block {
                return Err(self.error_here("PARTITION blocks cannot be nested"));
            }
            return Ok(Statement::Partition(self.partition(annotations, start)?));
        }
        let hint = if t.kind == TokenKind::Ident {
            suggestion_suffix(&t.text, STATEMENT_STARTS.iter().copied())
        } else {
            String::new()
        };
        let what = if annotations.is_empty() {
            "a statement (CREATE, INSERT, SELECT, UPSERT, UPDATE, DELETE or PARTITION)"
        } else {
            "a query, UPDATE, DELETE or PARTITION after the annotations"
        };
        Err(self.error_here(format!("expected {what}, found {}{hint}", self.found())))
    }
}
