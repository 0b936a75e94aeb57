//! Expressions: a Pratt parser over the operators of LANGUAGE.md §6.
//!
//! Precedence, high to low: unary `-` and `NOT`; `* / %`; `+ -`; `||`; comparisons, `IS [NOT]
//! NULL`, `[NOT] IN`, `[NOT] BETWEEN … AND …`, `[NOT] LIKE`; `AND`; `OR`. All binary operators
//! are left-associative.

use super::{is_reserved, PResult, Parser};
use crate::ast::{BinaryOp, ColumnRef, EventIndex, Expr, ExprKind, Literal, UnaryOp};
use crate::lexer::{Token, TokenKind as K};
use crate::span::Span;

/// Deepest expression tree accepted (keeps later recursive passes and `Drop` safe).
const MAX_TREE_DEPTH: u32 = 256;

const BP_OR: u8 = 1;
const BP_AND: u8 = 2;
const BP_CMP: u8 = 3;
const BP_CONCAT: u8 = 4;
const BP_ADD: u8 = 5;
const BP_MUL: u8 = 6;
const BP_PREFIX: u8 = 7;

/// Reserved words that may still name a function when followed by `(` (`first(x)`).
const FUNCTION_KEYWORDS: &[&str] = &["FIRST", "LAST", "LEFT", "RIGHT"];

#[derive(Clone, Copy)]
enum Infix {
    Bin(BinaryOp),
    Is,
    In(bool),
    Between(bool),
    Like(bool),
}

/// An expression with the depth of its tree.
type Deep = (Expr, u32);

fn boxed(e: Expr) -> Box<Expr> {
    Box::new(e)
}

impl Parser<'_> {
    /// A full expression.
    pub(crate) fn expr(&mut self) -> PResult<Expr> {
        Ok(self.expr_bp(0)?.0)
    }

    fn expr_bp(&mut self, min_bp: u8) -> PResult<Deep> {
        self.enter()?;
        let r = self.expr_bp_inner(min_bp);
        self.leave();
        r
    }

    fn check_depth(&mut self, depth: u32, span: Span) -> PResult<u32> {
        if depth > MAX_TREE_DEPTH {
            return Err(self.error_at(
                span,
                format!("expression too complex (more than {MAX_TREE_DEPTH} nested operations)"),
            ));
        }
        Ok(depth)
    }

    /// The infix operator at the current token: operator, binding power, tokens it spans.
    fn peek_infix(&self) -> Option<(Infix, u8, usize)> {
        let bin = |op, bp| Some((Infix::Bin(op), bp, 1));
        let t = self.peek();
        match t.kind {
            K::Star => bin(BinaryOp::Mul, BP_MUL),
            K::Slash => bin(BinaryOp::Div, BP_MUL),
            K::Percent => bin(BinaryOp::Mod, BP_MUL),
            K::Plus => bin(BinaryOp::Add, BP_ADD),
            K::Minus => bin(BinaryOp::Sub, BP_ADD),
            K::Concat => bin(BinaryOp::Concat, BP_CONCAT),
            K::Eq | K::EqEq => bin(BinaryOp::Eq, BP_CMP),
            K::NotEq => bin(BinaryOp::NotEq, BP_CMP),
            K::Lt => bin(BinaryOp::Lt, BP_CMP),
            K::LtEq => bin(BinaryOp::LtEq, BP_CMP),
            K::Gt => bin(BinaryOp::Gt, BP_CMP),
            K::GtEq => bin(BinaryOp::GtEq, BP_CMP),
            K::Ident if t.is_kw("AND") => bin(BinaryOp::And, BP_AND),
            K::Ident if t.is_kw("OR") => bin(BinaryOp::Or, BP_OR),
            K::Ident if t.is_kw("IS") => Some((Infix::Is, BP_CMP, 1)),
            K::Ident if t.is_kw("IN") => Some((Infix::In(false), BP_CMP, 1)),
            K::Ident if t.is_kw("BETWEEN") => Some((Infix::Between(false), BP_CMP, 1)),
            K::Ident if t.is_kw("LIKE") => Some((Infix::Like(false), BP_CMP, 1)),
            K::Ident if t.is_kw("NOT") => {
                let next = self.nth(1);
                if next.is_kw("IN") {
                    Some((Infix::In(true), BP_CMP, 2))
                } else if next.is_kw("BETWEEN") {
                    Some((Infix::Between(true), BP_CMP, 2))
                } else if next.is_kw("LIKE") {
                    Some((Infix::Like(true), BP_CMP, 2))
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    fn expr_bp_inner(&mut self, min_bp: u8) -> PResult<Deep> {
        let mut lhs = self.prefix()?;
        while let Some((op, bp, ntok)) = self.peek_infix() {
            if bp < min_bp {
                break;
            }
            let op_span = self.peek().span;
            for _ in 0..ntok {
                self.bump();
            }
            lhs = self.infix(lhs, op, bp, op_span)?;
        }
        Ok(lhs)
    }

    fn infix(&mut self, (left, ld): Deep, op: Infix, bp: u8, op_span: Span) -> PResult<Deep> {
        let start = left.span.start;
        let expr = boxed(left);
        let (kind, depth) = match op {
            Infix::Bin(op) => {
                let (right, rd) = self.expr_bp(bp + 1)?;
                let kind = ExprKind::Binary {
                    op,
                    left: expr,
                    right: boxed(right),
                };
                (kind, ld.max(rd))
            }
            Infix::Is => {
                let negated = self.eat_kw("NOT");
                self.expect_kw("NULL", if negated { "after IS NOT" } else { "after IS" })?;
                (ExprKind::IsNull { expr, negated }, ld)
            }
            Infix::In(negated) => {
                if self.eat(K::LParen) {
                    let mut list = Vec::new();
                    let mut depth = ld;
                    loop {
                        let (item, d) = self.expr_bp(0)?;
                        depth = depth.max(d);
                        list.push(item);
                        if !self.eat(K::Comma) {
                            break;
                        }
                    }
                    self.expect(K::RParen, "after the IN list")?;
                    (
                        ExprKind::InList {
                            expr,
                            list,
                            negated,
                        },
                        depth,
                    )
                } else {
                    let table = self.name("'(' or a table name after IN")?;
                    let kind = ExprKind::InTable {
                        expr,
                        table,
                        negated,
                    };
                    (kind, ld)
                }
            }
            Infix::Between(negated) => {
                let (low, d1) = self.expr_bp(BP_CONCAT)?;
                self.expect_kw("AND", "between the bounds of BETWEEN")?;
                let (high, d2) = self.expr_bp(BP_CONCAT)?;
                let kind = ExprKind::Between {
                    expr,
                    low: boxed(low),
                    high: boxed(high),
                    negated,
                };
                (kind, ld.max(d1).max(d2))
            }
            Infix::Like(negated) => {
                let (pattern, d) = self.expr_bp(BP_CONCAT)?;
                let kind = ExprKind::Like {
                    expr,
                    pattern: boxed(pattern),
                    negated,
                };
                (kind, ld.max(d))
            }
        };
        let depth = self.check_depth(depth + 1, op_span)?;
        let span = self.span_from(start);
        Ok((Expr { kind, span }, depth))
    }

    fn prefix(&mut self) -> PResult<Deep> {
        let t = self.peek().clone();
        let op = if t.kind == K::Minus {
            UnaryOp::Neg
        } else if t.is_kw("NOT") {
            UnaryOp::Not
        } else {
            return self.primary();
        };
        self.bump();
        if op == UnaryOp::Neg
            && matches!(self.kind(), K::Integer { .. } | K::Decimal { .. })
            && !self.at_number_with_unit()
        {
            // Fold `-42` into a literal, so that the smallest LONG can be written.
            let number = self.bump();
            let span = t.span.to(number.span);
            return Ok((self.number_literal(&number, true, span)?, 1));
        }
        let (operand, d) = self.expr_bp(BP_PREFIX)?;
        let depth = self.check_depth(d + 1, t.span)?;
        let kind = ExprKind::Unary {
            op,
            expr: boxed(operand),
        };
        Ok((
            Expr {
                kind,
                span: self.span_from(t.span.start),
            },
            depth,
        ))
    }

    fn number_literal(&mut self, t: &Token, negative: bool, span: Span) -> PResult<Expr> {
        let sign = if negative { "-" } else { "" };
        let text = format!("{sign}{}", t.text);
        let lit = match t.kind {
            K::Integer { long } => match text.parse::<i64>() {
                Ok(value) => Literal::Integer { value, long },
                Err(_) => {
                    return Err(self.error_at(
                        span,
                        format!("integer {text} is out of range (LONG is 64-bit)"),
                    ))
                }
            },
            _ => {
                let float = matches!(t.kind, K::Decimal { float: true });
                match text.parse::<f64>() {
                    Ok(value) if value.is_finite() => Literal::Decimal { value, float },
                    _ => return Err(self.error_at(span, format!("number {text} is out of range"))),
                }
            }
        };
        Ok(Expr {
            kind: ExprKind::Literal(lit),
            span,
        })
    }

    fn leaf(kind: ExprKind, span: Span) -> Deep {
        (Expr { kind, span }, 1)
    }

    fn primary(&mut self) -> PResult<Deep> {
        let t = self.peek().clone();
        match t.kind {
            K::Integer { .. } | K::Decimal { .. } => {
                if self.at_number_with_unit() {
                    let d = self.number_with_unit()?;
                    return Ok(Self::leaf(ExprKind::Duration(d.millis), d.span));
                }
                self.bump();
                Ok((self.number_literal(&t, false, t.span)?, 1))
            }
            K::String | K::DqString => {
                self.bump();
                Ok(Self::leaf(
                    ExprKind::Literal(Literal::String(t.text)),
                    t.span,
                ))
            }
            K::LParen => {
                self.bump();
                let (inner, depth) = self.expr_bp(0)?;
                self.expect(K::RParen, "to close '('")?;
                let span = self.span_from(t.span.start);
                Ok((
                    Expr {
                        kind: inner.kind,
                        span,
                    },
                    depth,
                ))
            }
            K::QuotedIdent => {
                let c = self.column_ref()?;
                Ok(Self::leaf(ExprKind::Column(c.clone()), c.span))
            }
            K::Ident => self.word(&t),
            _ => Err(self.expected("an expression", "")),
        }
    }

    /// An expression starting with a bare word.
    fn word(&mut self, t: &Token) -> PResult<Deep> {
        let literal = if t.is_kw("TRUE") {
            Some(Literal::Bool(true))
        } else if t.is_kw("FALSE") {
            Some(Literal::Bool(false))
        } else if t.is_kw("NULL") {
            Some(Literal::Null)
        } else {
            None
        };
        if let Some(lit) = literal {
            self.bump();
            return Ok(Self::leaf(ExprKind::Literal(lit), t.span));
        }
        if t.is_kw("INTERVAL") {
            let d = self.interval()?;
            return Ok(Self::leaf(ExprKind::Duration(d.millis), d.span));
        }
        if t.is_kw("CASE") {
            return self.case();
        }
        if t.is_kw("CAST") {
            return self.cast();
        }
        let reserved = is_reserved(&t.text);
        if self.nth_kind(1) == K::LParen
            && (!reserved || FUNCTION_KEYWORDS.iter().any(|k| t.is_kw(k)))
        {
            return self.function();
        }
        if reserved {
            return Err(self.expected("an expression", ""));
        }
        let c = self.column_ref()?;
        Ok(Self::leaf(ExprKind::Column(c.clone()), c.span))
    }

    /// `x`, `a.x`, `a[0].x`, `a[last].x`, `a[last - 1].x`.
    pub(crate) fn column_ref(&mut self) -> PResult<ColumnRef> {
        let first = self.name("a column name")?;
        let start = first.span.start;
        let mut index = None;
        if self.eat(K::LBracket) {
            index = Some(self.event_index()?);
            self.expect(K::RBracket, "after the event index")?;
            if !self.at(K::Dot) {
                return Err(self.expected("'.' and an attribute name", "after the event index"));
            }
        }
        if self.eat(K::Dot) {
            let name = self.member_name("an attribute name after '.'")?;
            return Ok(ColumnRef {
                qualifier: Some(first),
                index,
                name,
                span: self.span_from(start),
            });
        }
        Ok(ColumnRef {
            qualifier: None,
            index: None,
            span: first.span,
            name: first,
        })
    }

    fn event_index(&mut self) -> PResult<EventIndex> {
        if self.eat_kw("LAST") {
            if self.eat(K::Minus) {
                let n = self.small_int("a number after 'last -'")?;
                return Ok(if n == 0 {
                    EventIndex::Last
                } else {
                    EventIndex::FromLast(n)
                });
            }
            return Ok(EventIndex::Last);
        }
        if matches!(self.kind(), K::Integer { .. }) {
            return Ok(EventIndex::At(self.small_int("an event index")?));
        }
        Err(self.expected("an event index (a number, 'last' or 'last - n')", ""))
    }

    /// `name(args)`, `count(*)`, `count(DISTINCT x)`, `count()`.
    fn function(&mut self) -> PResult<Deep> {
        let name_tok = self.bump();
        self.bump(); // '('
        let (mut args, mut distinct, mut star, mut depth) = (Vec::new(), false, false, 0);
        if self.at(K::Star) && self.nth_kind(1) == K::RParen {
            self.bump();
            star = true;
        } else if !self.at(K::RParen) {
            distinct = self.eat_kw("DISTINCT");
            loop {
                let (arg, d) = self.expr_bp(0)?;
                depth = depth.max(d);
                args.push(arg);
                if !self.eat(K::Comma) {
                    break;
                }
            }
        }
        self.expect(K::RParen, "after the function arguments")?;
        let depth = self.check_depth(depth + 1, name_tok.span)?;
        let kind = ExprKind::Function {
            name: crate::ast::Ident {
                name: name_tok.text,
                span: name_tok.span,
            },
            args,
            distinct,
            star,
        };
        let span = self.span_from(name_tok.span.start);
        Ok((Expr { kind, span }, depth))
    }

    /// `CASE [operand] WHEN … THEN … [ELSE …] END`.
    fn case(&mut self) -> PResult<Deep> {
        let start = self.bump().span;
        let mut depth = 0;
        let mut sub = |p: &mut Self| -> PResult<Expr> {
            let (e, d) = p.expr_bp(0)?;
            depth = depth.max(d);
            Ok(e)
        };
        let operand = if self.at_kw("WHEN") {
            None
        } else {
            Some(boxed(sub(self)?))
        };
        let mut whens = Vec::new();
        while self.eat_kw("WHEN") {
            let cond = sub(self)?;
            self.expect_kw("THEN", "after the WHEN condition")?;
            whens.push((cond, sub(self)?));
        }
        if whens.is_empty() {
            return Err(self.expected("WHEN", "in CASE"));
        }
        let else_result = if self.eat_kw("ELSE") {
            Some(boxed(sub(self)?))
        } else {
            None
        };
        self.expect_kw("END", "to close CASE")?;
        let depth = self.check_depth(depth + 1, start)?;
        let kind = ExprKind::Case {
            operand,
            whens,
            else_result,
        };
        Ok((
            Expr {
                kind,
                span: self.span_from(start.start),
            },
            depth,
        ))
    }

    /// `CAST(x AS type)`.
    fn cast(&mut self) -> PResult<Deep> {
        let start = self.bump().span;
        self.expect(K::LParen, "after CAST")?;
        let (inner, d) = self.expr_bp(0)?;
        self.expect_kw("AS", "in CAST (CAST(x AS type))")?;
        let ty = self.type_name()?;
        self.expect(K::RParen, "to close CAST")?;
        let depth = self.check_depth(d + 1, start)?;
        let kind = ExprKind::Cast {
            expr: boxed(inner),
            ty,
        };
        Ok((
            Expr {
                kind,
                span: self.span_from(start.start),
            },
            depth,
        ))
    }
}
