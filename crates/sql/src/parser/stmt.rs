//! Definitions (`CREATE STREAM/TABLE/TRIGGER`), `WITH (…)` options, annotations, standalone
//! `UPDATE`/`DELETE` and `PARTITION` blocks.

use super::{PResult, Parser};
use crate::ast::{
    Annotation, ColumnDef, CreateStream, CreateTable, CreateTrigger, DeleteStmt, Ident,
    OptionValue, Partition, PartitionKey, RangeCase, Statement, TriggerSchedule, UpdateStmt,
    Watermark, WithOption,
};
use crate::diagnostic::{Diagnostic, Severity};
use crate::lexer::TokenKind as K;
use crate::span::Span;

/// The entries of a column list.
#[derive(Default)]
struct Elements {
    columns: Vec<ColumnDef>,
    watermark: Option<Watermark>,
    primary_key: Option<Vec<Ident>>,
    indexes: Vec<Vec<Ident>>,
}

impl Parser<'_> {
    /// At `CREATE` or `DEFINE`.
    pub(crate) fn create(&mut self, start: u32) -> PResult<Statement> {
        let kw = self.bump();
        let verb = self.token_text(&kw).to_ascii_uppercase();
        if self.eat_kw("STREAM") {
            let name = self.name("a stream name")?;
            let el = self.elements(false)?;
            let options = self.opt_with_options()?;
            return Ok(Statement::CreateStream(CreateStream {
                name,
                columns: el.columns,
                watermark: el.watermark,
                options,
                span: self.span_from(start),
            }));
        }
        if self.eat_kw("TABLE") {
            let name = self.name("a table name")?;
            let el = self.elements(true)?;
            let options = self.opt_with_options()?;
            return Ok(Statement::CreateTable(CreateTable {
                name,
                columns: el.columns,
                primary_key: el.primary_key.unwrap_or_default(),
                indexes: el.indexes,
                options,
                span: self.span_from(start),
            }));
        }
        if self.eat_kw("TRIGGER") {
            let name = self.name("a trigger name")?;
            self.expect_kw(
                "AT",
                "after the trigger name (AT START, AT EVERY …, AT CRON '…')",
            )?;
            let schedule = self.trigger_schedule()?;
            return Ok(Statement::CreateTrigger(CreateTrigger {
                name,
                schedule,
                span: self.span_from(start),
            }));
        }
        Err(self.expected("STREAM, TABLE or TRIGGER", &format!("after {verb}")))
    }

    fn trigger_schedule(&mut self) -> PResult<TriggerSchedule> {
        if self.eat_kw("START") {
            return Ok(TriggerSchedule::Start);
        }
        if self.eat_kw("EVERY") {
            return Ok(TriggerSchedule::Every(self.duration("after AT EVERY")?));
        }
        let cron = self.eat_kw("CRON");
        if matches!(self.kind(), K::String | K::DqString) {
            let t = self.bump();
            if !cron && t.text.trim().eq_ignore_ascii_case("start") {
                return Ok(TriggerSchedule::Start);
            }
            return Ok(TriggerSchedule::Cron {
                expr: t.text,
                span: t.span,
            });
        }
        if cron {
            return Err(self.expected("a quoted cron expression", "after AT CRON"));
        }
        Err(self.expected("START, EVERY <duration> or CRON '<expression>'", "after AT"))
    }

    /// `( entry, … )` of CREATE STREAM (`is_table` false) or CREATE TABLE.
    fn elements(&mut self, is_table: bool) -> PResult<Elements> {
        let what = if is_table { "table" } else { "stream" };
        self.expect(K::LParen, &format!("after the {what} name"))?;
        let mut el = Elements::default();
        loop {
            let start = self.start();
            if self.at_kw("WATERMARK") && self.nth_kw(1, "FOR") {
                if is_table {
                    return Err(self.error_here("tables cannot have a WATERMARK"));
                }
                if el.watermark.is_some() {
                    return Err(self.error_here("a stream can have only one WATERMARK"));
                }
                self.bump();
                self.bump();
                let column = self.name("the event-time column after WATERMARK FOR")?;
                self.expect_kw("AS", "after WATERMARK FOR column")?;
                let expr = self.expr()?;
                el.watermark = Some(Watermark {
                    column,
                    expr,
                    span: self.span_from(start),
                });
            } else if self.at_kw("PRIMARY") && self.nth_kw(1, "KEY") {
                self.bump();
                self.bump();
                let cols = self.name_list("in PRIMARY KEY")?;
                self.set_primary_key(&mut el, cols, start, is_table)?;
            } else if self.at_kw("INDEX") && self.nth_kind(1) == K::LParen {
                if !is_table {
                    return Err(self.error_here("INDEX is only allowed in CREATE TABLE"));
                }
                self.bump();
                let cols = self.name_list("in INDEX")?;
                el.indexes.push(cols);
            } else {
                let name = self.name("an attribute name")?;
                let ty = self.type_name()?;
                el.columns.push(ColumnDef {
                    name: name.clone(),
                    ty,
                    span: self.span_from(start),
                });
                if self.at_kw("PRIMARY") && self.nth_kw(1, "KEY") {
                    self.bump();
                    self.bump();
                    self.set_primary_key(&mut el, vec![name], start, is_table)?;
                }
            }
            if !self.eat(K::Comma) {
                break;
            }
        }
        self.expect(K::RParen, "after the attribute list")?;
        Ok(el)
    }

    fn set_primary_key(
        &mut self,
        el: &mut Elements,
        cols: Vec<Ident>,
        start: u32,
        is_table: bool,
    ) -> PResult<()> {
        let span = self.span_from(start);
        if !is_table {
            return Err(self.error_at(span, "PRIMARY KEY is only allowed in CREATE TABLE"));
        }
        if el.primary_key.is_some() {
            return Err(self.error_at(span, "a table can have only one PRIMARY KEY"));
        }
        el.primary_key = Some(cols);
        Ok(())
    }

    /// `( name, … )`
    fn name_list(&mut self, context: &str) -> PResult<Vec<Ident>> {
        self.expect(K::LParen, context)?;
        let mut names = vec![self.name("an attribute name")?];
        while self.eat(K::Comma) {
            names.push(self.name("an attribute name")?);
        }
        self.expect(K::RParen, &format!("after the attribute names {context}"))?;
        Ok(names)
    }

    // -----------------------------------------------------------------------------------------
    // WITH options
    // -----------------------------------------------------------------------------------------

    /// `[WITH (key = value, …)]`
    pub(crate) fn opt_with_options(&mut self) -> PResult<Vec<WithOption>> {
        if !self.eat_kw("WITH") {
            return Ok(Vec::new());
        }
        self.expect(K::LParen, "after WITH")?;
        let mut options = Vec::new();
        if self.eat(K::RParen) {
            return Ok(options);
        }
        loop {
            options.push(self.with_option()?);
            if !self.eat(K::Comma) {
                break;
            }
        }
        self.expect(K::RParen, "after the WITH options")?;
        Ok(options)
    }

    fn with_option(&mut self) -> PResult<WithOption> {
        let start = self.start();
        let key = match self.kind() {
            K::String | K::DqString | K::QuotedIdent => self.bump().text,
            K::Ident => {
                let mut key = self.bump().text;
                while self.at(K::Dot) && self.nth_kind(1) == K::Ident {
                    self.bump();
                    key.push('.');
                    key.push_str(&self.bump().text);
                }
                key
            }
            _ => return Err(self.expected("an option key", "in WITH (…)")),
        };
        let key_span = self.span_from(start);
        self.expect(K::Eq, &format!("after option key '{key}'"))?;
        let value_start = self.start();
        let negative =
            self.at(K::Minus) && matches!(self.nth_kind(1), K::Integer { .. } | K::Decimal { .. });
        if negative {
            self.bump();
        }
        let t = self.peek().clone();
        let value = match t.kind {
            K::String | K::DqString if !negative => OptionValue::String(t.text),
            K::Integer { .. } | K::Decimal { .. } => {
                let sign = if negative { "-" } else { "" };
                OptionValue::Number(format!("{sign}{}", self.token_text(&t)))
            }
            K::Ident if t.is_kw("TRUE") => OptionValue::Bool(true),
            K::Ident if t.is_kw("FALSE") => OptionValue::Bool(false),
            _ => {
                let fail = self.expected(
                    "a quoted string, a number, TRUE or FALSE",
                    &format!("as the value of option '{key}'"),
                );
                if t.kind == K::Ident {
                    if let Some(d) = self.diags.last_mut() {
                        d.notes.push(format!(
                            "help: quote the value: '{}'",
                            t.text.replace('\'', "''")
                        ));
                    }
                }
                return Err(fail);
            }
        };
        self.bump();
        Ok(WithOption {
            key,
            key_span,
            value,
            value_span: self.span_from(value_start),
        })
    }

    // -----------------------------------------------------------------------------------------
    // Annotations
    // -----------------------------------------------------------------------------------------

    /// `@name(args…)` annotations before a statement.
    pub(crate) fn annotations(&mut self) -> PResult<Vec<Annotation>> {
        let mut out = Vec::new();
        while self.at(K::At) {
            let start = self.bump().span.start;
            let first = self.member_name("an annotation name after '@'")?;
            let mut name = first.name;
            while self.at(K::Colon) && matches!(self.nth_kind(1), K::Ident | K::QuotedIdent) {
                self.bump();
                name.push(':');
                name.push_str(&self.bump().text);
            }
            let name = Ident {
                name,
                span: self.span_from(first.span.start),
            };
            let mut args = Vec::new();
            if self.eat(K::LParen) && !self.eat(K::RParen) {
                loop {
                    args.push(self.annotation_arg()?);
                    if !self.eat(K::Comma) {
                        break;
                    }
                }
                self.expect(K::RParen, "after the annotation arguments")?;
            }
            out.push(Annotation {
                name,
                args,
                span: self.span_from(start),
            });
        }
        Ok(out)
    }

    fn annotation_arg(&mut self) -> PResult<(String, Span)> {
        let start = self.start();
        let negative =
            self.at(K::Minus) && matches!(self.nth_kind(1), K::Integer { .. } | K::Decimal { .. });
        if negative {
            self.bump();
        }
        let t = self.peek().clone();
        let text = match t.kind {
            K::String | K::DqString if !negative => t.text,
            K::Integer { .. } | K::Decimal { .. } => {
                let sign = if negative { "-" } else { "" };
                format!("{sign}{}", self.token_text(&t))
            }
            K::Ident if t.is_kw("TRUE") || t.is_kw("FALSE") => t.text.to_ascii_lowercase(),
            _ => {
                return Err(
                    self.expected("a quoted string or a number", "as an annotation argument")
                )
            }
        };
        self.bump();
        Ok((text, self.span_from(start)))
    }

    // -----------------------------------------------------------------------------------------
    // UPDATE / DELETE
    // -----------------------------------------------------------------------------------------

    /// `UPDATE T SET … FROM S ON cond` or `UPDATE OR INSERT INTO T SET … FROM S ON cond`.
    pub(crate) fn update_stmt(
        &mut self,
        annotations: Vec<Annotation>,
        start: u32,
    ) -> PResult<UpdateStmt> {
        self.bump();
        let or_insert = self.eat_kw("OR");
        if or_insert {
            self.expect_kw("INSERT", "after UPDATE OR")?;
            self.expect_kw("INTO", "after UPDATE OR INSERT")?;
        }
        let table = self.name("a table name")?;
        let set = self.opt_set_list()?;
        self.expect_kw("FROM", "(UPDATE table SET … FROM stream ON condition)")?;
        let source = self.stream_ref()?;
        self.expect_kw("ON", "after the UPDATE source")?;
        let on = self.expr()?;
        Ok(UpdateStmt {
            annotations,
            table,
            or_insert,
            set,
            source,
            on,
            span: self.span_from(start),
        })
    }

    /// `DELETE FROM T USING S ON cond`.
    pub(crate) fn delete_stmt(
        &mut self,
        annotations: Vec<Annotation>,
        start: u32,
    ) -> PResult<DeleteStmt> {
        self.bump();
        self.expect_kw("FROM", "after DELETE")?;
        let table = self.name("a table name after DELETE FROM")?;
        self.expect_kw("USING", "(DELETE FROM table USING stream ON condition)")?;
        let source = self.stream_ref()?;
        self.expect_kw("ON", "after the DELETE source")?;
        let on = self.expr()?;
        Ok(DeleteStmt {
            annotations,
            table,
            source,
            on,
            span: self.span_from(start),
        })
    }

    // -----------------------------------------------------------------------------------------
    // PARTITION
    // -----------------------------------------------------------------------------------------

    /// `PARTITION WITH (keys…) BEGIN statements END [WITH (…)]`.
    ///
    /// Annotations written before `PARTITION` are copied to every statement of the block
    /// (after the statement's own), except `@name`, which would give several queries the same
    /// name: it is ignored with a warning.
    pub(crate) fn partition(
        &mut self,
        annotations: Vec<Annotation>,
        start: u32,
    ) -> PResult<Partition> {
        self.bump();
        self.expect_kw("WITH", "after PARTITION")?;
        self.expect(K::LParen, "after PARTITION WITH")?;
        let mut keys = vec![self.partition_key()?];
        while self.eat(K::Comma) {
            keys.push(self.partition_key()?);
        }
        self.expect(K::RParen, "after the partition keys")?;
        self.expect_kw("BEGIN", "after PARTITION WITH (…)")?;
        let mut statements = self.statement_list(true);
        self.expect_kw("END", "to close the PARTITION block")?;
        let options = self.opt_with_options()?;
        let (names, shared): (Vec<_>, Vec<_>) = annotations
            .into_iter()
            .partition(|a| a.name.name.eq_ignore_ascii_case("name"));
        for a in names {
            self.diags.push(Diagnostic {
                severity: Severity::Warning,
                message: "@name before PARTITION is ignored: name the queries inside the block"
                    .to_string(),
                span: a.span,
                notes: Vec::new(),
            });
        }
        if !shared.is_empty() {
            for s in &mut statements {
                let list = match s {
                    Statement::Query(q) => &mut q.annotations,
                    Statement::Update(u) => &mut u.annotations,
                    Statement::Delete(d) => &mut d.annotations,
                    _ => continue,
                };
                list.extend(shared.iter().cloned());
            }
        }
        Ok(Partition {
            keys,
            statements,
            options,
            span: self.span_from(start),
        })
    }

    /// `expr OF Stream` or `cond AS 'label' OR cond AS 'label' … OF Stream`.
    fn partition_key(&mut self) -> PResult<PartitionKey> {
        let start = self.start();
        let expr = self.expr()?;
        if !self.at_kw("AS") {
            self.expect_kw("OF", "after the partition key (key OF Stream)")?;
            let stream = self.name("a stream name after OF")?;
            return Ok(PartitionKey::Value {
                expr,
                stream,
                span: self.span_from(start),
            });
        }
        let mut ranges = Vec::new();
        let mut condition = expr;
        loop {
            let case_start = condition.span.start;
            self.expect_kw("AS", "after the range condition")?;
            if !matches!(self.kind(), K::String | K::DqString) {
                return Err(self.expected("a quoted label", "after AS in a range partition"));
            }
            let label = self.bump().text;
            ranges.push(RangeCase {
                condition,
                label,
                span: self.span_from(case_start),
            });
            if !self.eat_kw("OR") {
                break;
            }
            condition = self.expr()?;
        }
        self.expect_kw("OF", "after the range partition (… AS 'label' OF Stream)")?;
        let stream = self.name("a stream name after OF")?;
        Ok(PartitionKey::Range {
            ranges,
            stream,
            span: self.span_from(start),
        })
    }
}
