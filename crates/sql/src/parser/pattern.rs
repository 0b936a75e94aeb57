//! `FROM PATTERN (…) [WITHIN d]` and `FROM SEQUENCE (…)` (LANGUAGE.md §11).
//!
//! ```text
//! expr      := term ('->' term)*
//! term      := EVERY term | or
//! or        := and (OR and)*              -- AND binds tighter than OR
//! and       := factor (AND factor)*
//! factor    := element | NOT stream ['[' cond ']'] [FOR duration] | '(' expr ')' | EVERY factor
//! element   := [alias '='] stream ['[' cond ']'] [quantifier]
//! quantifier:= '{' n '}' | '{' m ',' n '}' | '{' m ',' '}' | '+' | '*' | '?' | '<' m ':' n '>'
//! ```

use super::{PResult, Parser};
use crate::ast::{
    AbsentElement, PatternElement, PatternExpr, PatternMode, PatternQuery, Quantifier,
};
use crate::lexer::TokenKind as K;

/// Deepest AND/OR/EVERY tree accepted.
const MAX_PATTERN_DEPTH: u32 = 256;

type Deep = (PatternExpr, u32);

impl Parser<'_> {
    /// At `PATTERN` or `SEQUENCE`.
    pub(crate) fn pattern_query(&mut self) -> PResult<PatternQuery> {
        let kw = self.bump();
        let mode = if kw.is_kw("SEQUENCE") {
            PatternMode::Sequence
        } else {
            PatternMode::Pattern
        };
        let what = if mode == PatternMode::Sequence {
            "after SEQUENCE"
        } else {
            "after PATTERN"
        };
        self.expect(K::LParen, what)?;
        let (expr, _) = self.pattern_expr()?;
        let mut within = None;
        if self.eat_kw("WITHIN") {
            within = Some(self.duration("after WITHIN")?);
        }
        let close = if within.is_some() {
            "after the WITHIN duration"
        } else {
            "to close the pattern (or '->', AND, OR, WITHIN)"
        };
        self.expect(K::RParen, close)?;
        if self.at_kw("WITHIN") {
            if within.is_some() {
                return Err(self.error_here("the pattern already has a WITHIN clause"));
            }
            self.bump();
            within = Some(self.duration("after WITHIN")?);
        }
        Ok(PatternQuery {
            mode,
            expr,
            within,
            span: self.span_from(kw.span.start),
        })
    }

    fn pattern_depth(&mut self, depth: u32, start: u32) -> PResult<u32> {
        if depth > MAX_PATTERN_DEPTH {
            let span = self.span_from(start);
            return Err(self.error_at(
                span,
                format!("pattern too complex (more than {MAX_PATTERN_DEPTH} nested operators)"),
            ));
        }
        Ok(depth)
    }

    /// `term ('->' term)*`; a single term stands alone.
    fn pattern_expr(&mut self) -> PResult<Deep> {
        self.enter()?;
        let r = self.pattern_expr_inner();
        self.leave();
        r
    }

    fn pattern_expr_inner(&mut self) -> PResult<Deep> {
        let first = self.pattern_term()?;
        if !self.at(K::Arrow) {
            return Ok(first);
        }
        let start = first.0.span().start;
        let mut depth = first.1;
        let mut steps = vec![first.0];
        while self.eat(K::Arrow) {
            let (step, d) = self.pattern_term()?;
            depth = depth.max(d);
            steps.push(step);
        }
        let depth = self.pattern_depth(depth + 1, start)?;
        Ok((PatternExpr::FollowedBy(steps, self.span_from(start)), depth))
    }

    fn pattern_term(&mut self) -> PResult<Deep> {
        if self.at_kw("EVERY") {
            return self.every(Self::pattern_term);
        }
        self.pattern_or()
    }

    /// `EVERY` followed by what `inner` parses.
    fn every(&mut self, inner: fn(&mut Self) -> PResult<Deep>) -> PResult<Deep> {
        let start = self.bump().span.start;
        self.enter()?;
        let r = inner(self);
        self.leave();
        let (e, d) = r?;
        let depth = self.pattern_depth(d + 1, start)?;
        Ok((
            PatternExpr::Every(Box::new(e), self.span_from(start)),
            depth,
        ))
    }

    fn pattern_or(&mut self) -> PResult<Deep> {
        let (mut left, mut depth) = self.pattern_and()?;
        while self.eat_kw("OR") {
            let (right, d) = self.pattern_and()?;
            let start = left.span().start;
            depth = self.pattern_depth(depth.max(d) + 1, start)?;
            left = PatternExpr::Or(Box::new(left), Box::new(right), self.span_from(start));
        }
        Ok((left, depth))
    }

    fn pattern_and(&mut self) -> PResult<Deep> {
        let (mut left, mut depth) = self.pattern_factor()?;
        while self.eat_kw("AND") {
            let (right, d) = self.pattern_factor()?;
            let start = left.span().start;
            depth = self.pattern_depth(depth.max(d) + 1, start)?;
            left = PatternExpr::And(Box::new(left), Box::new(right), self.span_from(start));
        }
        Ok((left, depth))
    }

    fn pattern_factor(&mut self) -> PResult<Deep> {
        if self.at_kw("EVERY") {
            return self.every(Self::pattern_factor);
        }
        if self.at(K::LParen) {
            let start = self.bump().span.start;
            let (inner, d) = self.pattern_expr()?;
            if self.at_kw("WITHIN") {
                return Err(self.error_here(
                    "WITHIN applies to the whole pattern: write it at the end, after the last step",
                ));
            }
            self.expect(K::RParen, "to close the pattern group")?;
            let depth = self.pattern_depth(d + 1, start)?;
            return Ok((
                PatternExpr::Group(Box::new(inner), self.span_from(start)),
                depth,
            ));
        }
        if self.at_kw("NOT") {
            return Ok((PatternExpr::Absent(self.absent()?), 1));
        }
        Ok((PatternExpr::Element(self.pattern_element()?), 1))
    }

    /// True at `alias =`.
    fn at_pattern_alias(&self) -> bool {
        self.nth_is_name(0) && self.nth_kind(1) == K::Eq
    }

    fn pattern_filter(&mut self) -> PResult<Option<crate::ast::Expr>> {
        if !self.eat(K::LBracket) {
            return Ok(None);
        }
        let cond = self.expr()?;
        self.expect(K::RBracket, "to close the filter condition")?;
        Ok(Some(cond))
    }

    /// `NOT Stream[cond] [FOR d]`.
    fn absent(&mut self) -> PResult<AbsentElement> {
        let start = self.bump().span.start;
        if self.at_pattern_alias() {
            return Err(self.error_here(
                "an absent (NOT) element cannot have an alias: it never binds an event",
            ));
        }
        let stream = self.name("a stream name after NOT")?;
        let filter = self.pattern_filter()?;
        let duration = if self.eat_kw("FOR") {
            Some(self.duration("after FOR")?)
        } else {
            None
        };
        Ok(AbsentElement {
            stream,
            filter,
            duration,
            span: self.span_from(start),
        })
    }

    /// `[alias =] Stream[cond] [quantifier]`.
    fn pattern_element(&mut self) -> PResult<PatternElement> {
        let start = self.start();
        let alias = if self.at_pattern_alias() {
            let a = self.name("an alias")?;
            self.bump(); // '='
            Some(a)
        } else {
            None
        };
        let what = if alias.is_some() {
            "a stream name after '='"
        } else {
            "a pattern step (alias=Stream, NOT Stream, EVERY or '(')"
        };
        let stream = self.name(what)?;
        let filter = self.pattern_filter()?;
        let quantifier = self.quantifier()?;
        Ok(PatternElement {
            alias,
            stream,
            filter,
            quantifier,
            span: self.span_from(start),
        })
    }

    fn quantifier(&mut self) -> PResult<Option<Quantifier>> {
        let start = self.start();
        let (min, max) = match self.kind() {
            K::Plus => {
                self.bump();
                (1, None)
            }
            K::Star => {
                self.bump();
                (0, None)
            }
            K::Question => {
                self.bump();
                (0, Some(1))
            }
            K::LBrace => {
                self.bump();
                let bounds = self.bounds(K::Comma)?;
                self.expect(K::RBrace, "to close the quantifier")?;
                bounds
            }
            K::Lt if matches!(self.nth_kind(1), K::Integer { .. } | K::Colon) => {
                self.bump();
                let bounds = self.bounds(K::Colon)?;
                self.expect(K::Gt, "to close the quantifier")?;
                bounds
            }
            _ => return Ok(None),
        };
        let span = self.span_from(start);
        if max.is_some_and(|m| m < min) {
            return Err(self.error_at(
                span,
                format!(
                    "invalid quantifier: the maximum ({}) is smaller than the minimum ({min})",
                    max.unwrap_or_default()
                ),
            ));
        }
        if max == Some(0) {
            return Err(self.error_at(span, "invalid quantifier: the maximum must be at least 1"));
        }
        Ok(Some(Quantifier { min, max, span }))
    }

    /// `n`, `m sep n`, `m sep`, `sep n` inside a quantifier.
    fn bounds(&mut self, sep: K) -> PResult<(u32, Option<u32>)> {
        let min = if self.at(sep) {
            0
        } else {
            self.small_int("a count in the quantifier")?
        };
        if !self.eat(sep) {
            return Ok((min, Some(min)));
        }
        if matches!(self.kind(), K::Integer { .. }) {
            Ok((min, Some(self.small_int("a count in the quantifier")?)))
        } else {
            Ok((min, None))
        }
    }
}
