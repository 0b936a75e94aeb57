//! Queries (LANGUAGE.md §5, §7–§10): output clauses, SELECT, FROM with windows and joins, and
//! the clauses after FROM.

use super::{PResult, Parser};
use crate::ast::{
    Annotation, Assignment, FromClause, Ident, Join, JoinKind, JoinStep, OrderItem, OutputEvents,
    OutputRate, OutputRateMode, Query, QueryOutput, RateUnit, Select, SelectItem, StreamRef,
    Window,
};
use crate::lexer::TokenKind as K;

/// Clause keywords, for "out of place" messages.
const CLAUSE_ORDER: &str =
    "FROM … [WHERE] [GROUP BY] [HAVING] [ORDER BY] [LIMIT [OFFSET]] [OUTPUT] [INSERT INTO …]";

impl Parser<'_> {
    /// A query in leading (`INSERT INTO T SELECT …`, `UPSERT INTO T SELECT …`) or trailing
    /// (`SELECT … INSERT INTO T`) form, or with no output at all.
    pub(crate) fn query(&mut self, annotations: Vec<Annotation>, start: u32) -> PResult<Query> {
        let mut output = None;
        if self.at_kw("INSERT") {
            output = Some(self.insert_clause()?);
        } else if self.at_kw("UPSERT") {
            output = Some(self.upsert_clause()?);
        }
        if output.is_some() && !self.at_kw("SELECT") {
            let target = match &output {
                Some(QueryOutput::Insert { target, .. } | QueryOutput::Upsert { target }) => {
                    target.name.clone()
                }
                _ => String::new(),
            };
            return Err(self.expected("SELECT", &format!("after 'INTO {target}'")));
        }
        let select = self.select()?;
        self.expect_kw("FROM", "after the SELECT list")?;
        let from = self.parse_from()?;
        let where_clause = if self.eat_kw("WHERE") {
            Some(self.expr()?)
        } else {
            None
        };
        let mut group_by = Vec::new();
        if self.eat_kw("GROUP") {
            self.expect_kw("BY", "after GROUP")?;
            group_by = self.expr_list()?;
        }
        let having = if self.eat_kw("HAVING") {
            Some(self.expr()?)
        } else {
            None
        };
        let mut order_by = Vec::new();
        if self.eat_kw("ORDER") {
            self.expect_kw("BY", "after ORDER")?;
            order_by = self.order_items()?;
        }
        let mut limit = None;
        let mut offset = None;
        if self.eat_kw("LIMIT") {
            limit = Some(self.count("after LIMIT")?);
        }
        if self.eat_kw("OFFSET") {
            offset = Some(self.count("after OFFSET")?);
        }
        let mut output_rate = None;
        if self.at_kw("OUTPUT") {
            output_rate = Some(self.output_rate()?);
        }
        if let Some(trailing) = self.trailing_output()? {
            if output.is_some() {
                return Err(self.error_at(
                    self.span_from(trailing.1),
                    "this query already has an output clause at its start",
                ));
            }
            output = Some(trailing.0);
            if output_rate.is_none() && self.at_kw("OUTPUT") {
                output_rate = Some(self.output_rate()?);
            }
        }
        self.check_clause_order()?;
        Ok(Query {
            annotations,
            output: output.unwrap_or(QueryOutput::Default),
            select,
            from,
            where_clause,
            group_by,
            having,
            order_by,
            limit,
            offset,
            output_rate,
            span: self.span_from(start),
        })
    }

    /// Reports a clause keyword found after the point where it may appear.
    fn check_clause_order(&mut self) -> PResult<()> {
        let t = self.peek().clone();
        if t.is_kw("WINDOW") {
            return Err(self.error_here(
                "WINDOW must be written right after the stream in FROM (FROM S WINDOW(…) AS s)",
            ));
        }
        let clause = [
            "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET", "OUTPUT",
        ]
        .into_iter()
        .find(|k| t.is_kw(k));
        if let Some(k) = clause {
            let k = match k {
                "GROUP" => "GROUP BY",
                "ORDER" => "ORDER BY",
                other => other,
            };
            return Err(self.error_here(format!(
                "{k} is out of place: the clause order is {CLAUSE_ORDER}"
            )));
        }
        if ["INSERT", "UPSERT", "UPDATE", "DELETE"]
            .iter()
            .any(|k| t.is_kw(k))
        {
            return Err(self.error_here(format!(
                "unexpected {}: a query has one output clause",
                self.token_text(&t).to_ascii_uppercase()
            )));
        }
        Ok(())
    }

    /// `INSERT [CURRENT|EXPIRED|ALL] [EVENTS] INTO target`.
    fn insert_clause(&mut self) -> PResult<QueryOutput> {
        self.bump();
        let events = if self.eat_kw("CURRENT") {
            OutputEvents::Current
        } else if self.eat_kw("EXPIRED") {
            OutputEvents::Expired
        } else if self.eat_kw("ALL") {
            OutputEvents::All
        } else {
            OutputEvents::Current
        };
        self.eat_kw("EVENTS");
        self.expect_kw("INTO", "after INSERT")?;
        let target = self.name("a stream or table name after INTO")?;
        Ok(QueryOutput::Insert { events, target })
    }

    /// `UPSERT INTO target`.
    fn upsert_clause(&mut self) -> PResult<QueryOutput> {
        self.bump();
        self.expect_kw("INTO", "after UPSERT")?;
        let target = self.name("a table name after INTO")?;
        Ok(QueryOutput::Upsert { target })
    }

    /// A trailing output clause, with the offset where it starts.
    fn trailing_output(&mut self) -> PResult<Option<(QueryOutput, u32)>> {
        let start = self.start();
        let out = if self.at_kw("INSERT") {
            self.insert_clause()?
        } else if self.at_kw("UPSERT") {
            self.upsert_clause()?
        } else if self.eat_kw("UPDATE") {
            if self.eat_kw("OR") {
                self.expect_kw("INSERT", "after UPDATE OR")?;
                self.expect_kw("INTO", "after UPDATE OR INSERT")?;
                let target = self.name("a table name after INTO")?;
                let set = self.opt_set_list()?;
                self.expect_kw("ON", "after the UPDATE OR INSERT target")?;
                let on = self.expr()?;
                QueryOutput::UpdateOrInsert { target, set, on }
            } else {
                let target = self.name("a table name after UPDATE")?;
                let set = self.opt_set_list()?;
                self.expect_kw("ON", "after the UPDATE target")?;
                let on = self.expr()?;
                QueryOutput::Update { target, set, on }
            }
        } else if self.eat_kw("DELETE") {
            self.eat_kw("FROM");
            let target = self.name("a table name after DELETE")?;
            self.expect_kw("ON", "after the DELETE target")?;
            let on = self.expr()?;
            QueryOutput::Delete { target, on }
        } else {
            return Ok(None);
        };
        Ok(Some((out, start)))
    }

    /// `[SET col = expr, …]`
    pub(crate) fn opt_set_list(&mut self) -> PResult<Vec<Assignment>> {
        let mut set = Vec::new();
        if !self.eat_kw("SET") {
            return Ok(set);
        }
        loop {
            let start = self.start();
            let column = self.column_ref()?;
            if !self.eat(K::Eq) && !self.eat(K::EqEq) {
                return Err(self.expected("'='", "after the column to set"));
            }
            let value = self.expr()?;
            set.push(Assignment {
                column,
                value,
                span: self.span_from(start),
            });
            if !self.eat(K::Comma) {
                return Ok(set);
            }
        }
    }

    fn expr_list(&mut self) -> PResult<Vec<crate::ast::Expr>> {
        let mut list = vec![self.expr()?];
        while self.eat(K::Comma) {
            list.push(self.expr()?);
        }
        Ok(list)
    }

    fn order_items(&mut self) -> PResult<Vec<OrderItem>> {
        let mut items = Vec::new();
        loop {
            let start = self.start();
            let expr = self.expr()?;
            let descending = if self.eat_kw("DESC") {
                true
            } else {
                self.eat_kw("ASC");
                false
            };
            items.push(OrderItem {
                expr,
                descending,
                span: self.span_from(start),
            });
            if !self.eat(K::Comma) {
                return Ok(items);
            }
        }
    }

    /// `OUTPUT [ALL|FIRST|LAST|SNAPSHOT] EVERY (<n> EVENTS | <duration>)`.
    fn output_rate(&mut self) -> PResult<OutputRate> {
        let start = self.bump().span.start;
        let mode = if self.eat_kw("ALL") {
            OutputRateMode::All
        } else if self.eat_kw("FIRST") {
            OutputRateMode::First
        } else if self.eat_kw("LAST") {
            OutputRateMode::Last
        } else if self.eat_kw("SNAPSHOT") {
            OutputRateMode::Snapshot
        } else {
            OutputRateMode::All
        };
        self.expect_kw(
            "EVERY",
            "in OUTPUT (OUTPUT [ALL|FIRST|LAST|SNAPSHOT] EVERY …)",
        )?;
        let every = if matches!(self.kind(), K::Integer { .. })
            && (self.nth_kw(1, "EVENTS") || self.nth_kw(1, "EVENT"))
        {
            let n = self.count("")?;
            self.bump();
            if mode == OutputRateMode::Snapshot {
                return Err(self.error_at(
                    self.span_from(n.span.start),
                    "OUTPUT SNAPSHOT needs a time period (OUTPUT SNAPSHOT EVERY 5 sec)",
                ));
            }
            if n.value == 0 {
                return Err(self.error_at(n.span, "OUTPUT EVERY needs at least 1 event"));
            }
            RateUnit::Events(n.value)
        } else {
            RateUnit::Time(self.duration("or '<n> EVENTS' after OUTPUT … EVERY")?)
        };
        Ok(OutputRate {
            mode,
            every,
            span: self.span_from(start),
        })
    }

    // -----------------------------------------------------------------------------------------
    // SELECT
    // -----------------------------------------------------------------------------------------

    fn select(&mut self) -> PResult<Select> {
        let start = self.expect_kw("SELECT", "")?.span.start;
        let mut items = Vec::new();
        loop {
            items.push(self.select_item()?);
            if !self.eat(K::Comma) {
                break;
            }
        }
        Ok(Select {
            items,
            span: self.span_from(start),
        })
    }

    fn select_item(&mut self) -> PResult<SelectItem> {
        if self.at(K::Star) {
            return Ok(SelectItem::Wildcard(self.bump().span));
        }
        if self.nth_is_name(0) && self.nth_kind(1) == K::Dot && self.nth_kind(2) == K::Star {
            let alias = self.name("an alias")?;
            self.bump();
            self.bump();
            return Ok(SelectItem::QualifiedWildcard(alias));
        }
        let expr = self.expr()?;
        let alias = self.opt_alias()?;
        Ok(SelectItem::Expr { expr, alias })
    }

    /// `AS name` or an implicit alias.
    fn opt_alias(&mut self) -> PResult<Option<Ident>> {
        // After AS nothing but a name can follow, so keywords are fine as output names
        // (`count() AS at`, `… AS end`).
        if self.eat_kw("AS") {
            return Ok(Some(self.member_name("an alias after AS")?));
        }
        if self.at_implicit_alias() {
            return Ok(Some(self.name("an alias")?));
        }
        Ok(None)
    }

    // -----------------------------------------------------------------------------------------
    // FROM
    // -----------------------------------------------------------------------------------------

    fn parse_from(&mut self) -> PResult<FromClause> {
        if self.at_kw("PATTERN") || self.at_kw("SEQUENCE") {
            return Ok(FromClause::Pattern(self.pattern_query()?));
        }
        let left = self.stream_ref()?;
        let mut steps = Vec::new();
        while let Some(kind) = self.join_kind()? {
            let start = kind.1;
            let right = self.stream_ref()?;
            let on = if self.eat_kw("ON") {
                Some(self.expr()?)
            } else {
                None
            };
            steps.push(JoinStep {
                kind: kind.0,
                right,
                on,
                span: self.span_from(start),
            });
        }
        if self.at(K::Comma) {
            return Err(self.error_here("comma joins are not supported: use JOIN … ON …"));
        }
        if steps.is_empty() {
            return Ok(FromClause::Stream(left));
        }
        let start = left.span.start;
        Ok(FromClause::Join(Join {
            left,
            steps,
            span: self.span_from(start),
        }))
    }

    /// Consumes a join operator (`[INNER] JOIN`, `LEFT [OUTER] JOIN`, …).
    fn join_kind(&mut self) -> PResult<Option<(JoinKind, u32)>> {
        let start = self.start();
        let kind = if self.eat_kw("JOIN") {
            return Ok(Some((JoinKind::Inner, start)));
        } else if self.eat_kw("INNER") {
            JoinKind::Inner
        } else if self.eat_kw("LEFT") {
            JoinKind::Left
        } else if self.eat_kw("RIGHT") {
            JoinKind::Right
        } else if self.eat_kw("FULL") {
            JoinKind::Full
        } else {
            return Ok(None);
        };
        if kind != JoinKind::Inner {
            self.eat_kw("OUTER");
        }
        self.expect_kw("JOIN", "")?;
        Ok(Some((kind, start)))
    }

    /// `Name ['[' cond ']'] [WINDOW …] [[AS] alias] [UNIDIRECTIONAL]` — window, alias and
    /// UNIDIRECTIONAL in any order.
    pub(crate) fn stream_ref(&mut self) -> PResult<StreamRef> {
        let name = self.name("a stream or table name")?;
        let start = name.span.start;
        let mut filter = None;
        if self.eat(K::LBracket) {
            filter = Some(self.expr()?);
            self.expect(K::RBracket, "to close the filter condition")?;
        }
        let (mut window, mut alias, mut unidirectional) = (None, None, false);
        loop {
            if self.at_kw("WINDOW") {
                if window.is_some() {
                    return Err(self.error_here("only one window per input stream"));
                }
                window = Some(self.window()?);
            } else if alias.is_none() && self.eat_kw("AS") {
                alias = Some(self.name("an alias after AS")?);
            } else if alias.is_none() && self.at_implicit_alias() {
                alias = Some(self.name("an alias")?);
            } else if !unidirectional && self.eat_kw("UNIDIRECTIONAL") {
                unidirectional = true;
            } else {
                break;
            }
        }
        Ok(StreamRef {
            name,
            filter,
            window,
            alias,
            unidirectional,
            span: self.span_from(start),
        })
    }

    /// `WINDOW('type', args…)` or `WINDOW Type(args…)`.
    fn window(&mut self) -> PResult<Window> {
        let start = self.bump().span.start;
        let named_form = !self.at(K::LParen);
        let kind = if named_form {
            let kind = match self.kind() {
                K::Ident | K::QuotedIdent => {
                    let t = self.bump();
                    Ident {
                        name: t.text,
                        span: t.span,
                    }
                }
                _ => {
                    return Err(self.expected(
                        "'(' or a window type",
                        "after WINDOW (WINDOW('length', 10) or WINDOW TUMBLING(1 min))",
                    ))
                }
            };
            self.expect(K::LParen, "after the window type")?;
            kind
        } else {
            self.bump();
            match self.kind() {
                K::String | K::DqString | K::Ident | K::QuotedIdent => {
                    let t = self.bump();
                    Ident {
                        name: t.text,
                        span: t.span,
                    }
                }
                _ => return Err(self.expected("a window type such as 'length'", "in WINDOW(…)")),
            }
        };
        let mut args = Vec::new();
        if named_form && !self.at(K::RParen) {
            // `WINDOW TYPE(a, b)`: the arguments start right away.
            args.push(self.expr()?);
        }
        // `WINDOW('type', a, b)`: each argument follows a comma.
        while self.eat(K::Comma) {
            args.push(self.expr()?);
        }
        self.expect(K::RParen, "after window arguments")?;
        Ok(Window {
            kind,
            args,
            span: self.span_from(start),
        })
    }
}
