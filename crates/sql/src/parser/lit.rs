//! Names, type names, durations and counts.

use super::{is_reserved, PResult, Parser};
use crate::ast::{Count, Duration, Ident, TypeKind, TypeName};
use crate::diagnostic::suggestion_suffix;
use crate::lexer::{Token, TokenKind};

/// Milliseconds per unit for a duration unit word (case-insensitive).
pub(crate) fn unit_millis(word: &str) -> Option<i64> {
    let ms = match word.to_ascii_uppercase().as_str() {
        "MILLISECOND" | "MILLISECONDS" | "MILLISEC" | "MS" => 1,
        "SECOND" | "SECONDS" | "SEC" | "S" => 1_000,
        "MINUTE" | "MINUTES" | "MIN" => 60_000,
        "HOUR" | "HOURS" => 3_600_000,
        "DAY" | "DAYS" => 86_400_000,
        "WEEK" | "WEEKS" => 604_800_000,
        _ => return None,
    };
    Some(ms)
}

/// `number × factor` in whole milliseconds (decimals are rounded); `None` when out of range.
fn scale(number: &str, factor: i64) -> Option<i64> {
    if let Ok(n) = number.parse::<i64>() {
        return n.checked_mul(factor);
    }
    let v = number.parse::<f64>().ok()? * factor as f64;
    // 9.2e18 is just below i64::MAX, so the cast below is exact enough and cannot saturate.
    (v.is_finite() && v.abs() < 9.2e18).then(|| v.round() as i64)
}

/// Parses a duration written as text, e.g. the value of an option: `'30 sec'`, `'1 hour'`,
/// `'500 ms'`, `'1.5 min'`, `'5seconds'`. A bare number means milliseconds. Units are
/// MILLISECOND(S)/MILLISEC/MS, SECOND(S)/SEC/S, MINUTE(S)/MIN, HOUR(S), DAY(S), WEEK(S), in
/// any case. Returns `None` for anything else (including negative and overflowing values).
pub fn parse_duration_text(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    if !number.chars().any(|c| c.is_ascii_digit()) || number.matches('.').count() > 1 {
        return None;
    }
    let unit = unit.trim();
    let factor = if unit.is_empty() {
        1
    } else {
        unit_millis(unit)?
    };
    scale(number, factor)
}

impl Parser<'_> {
    // -----------------------------------------------------------------------------------------
    // Names
    // -----------------------------------------------------------------------------------------

    fn ident_of(t: &Token) -> Ident {
        Ident {
            name: t.text.clone(),
            span: t.span,
        }
    }

    /// True when token `n` can be a name: an unreserved word, a backtick-quoted identifier or
    /// double-quoted text.
    pub(crate) fn nth_is_name(&self, n: usize) -> bool {
        let t = self.nth(n);
        match t.kind {
            TokenKind::Ident => !is_reserved(&t.text),
            TokenKind::QuotedIdent | TokenKind::DqString => true,
            _ => false,
        }
    }

    /// A name (stream, table, attribute, alias): fails with "expected {what}, found …".
    pub(crate) fn name(&mut self, what: &str) -> PResult<Ident> {
        if self.nth_is_name(0) {
            let t = self.bump();
            return Ok(Self::ident_of(&t));
        }
        let note = self.reserved_note();
        let fail = self.expected(what, "");
        if let (Some(note), Some(d)) = (note, self.diags.last_mut()) {
            d.notes.push(note);
        }
        Err(fail)
    }

    /// A name after `.` (`e1.end`): keywords are allowed here, since they cannot be meant as
    /// keywords.
    pub(crate) fn member_name(&mut self, what: &str) -> PResult<Ident> {
        match self.kind() {
            TokenKind::Ident | TokenKind::QuotedIdent | TokenKind::DqString => {
                let t = self.bump();
                Ok(Self::ident_of(&t))
            }
            _ => Err(self.expected(what, "")),
        }
    }

    /// An implicit alias (no `AS`) may follow: an unreserved word not starting a call, or a
    /// quoted name.
    pub(crate) fn at_implicit_alias(&self) -> bool {
        self.nth_is_name(0) && self.nth_kind(1) != TokenKind::LParen
    }

    // -----------------------------------------------------------------------------------------
    // Numbers and durations
    // -----------------------------------------------------------------------------------------

    /// A non-negative integer (`LIMIT 10`).
    pub(crate) fn count(&mut self, context: &str) -> PResult<Count> {
        if !matches!(self.kind(), TokenKind::Integer { .. }) {
            return Err(self.expected("a non-negative integer", context));
        }
        let t = self.bump();
        match t.text.parse::<u64>() {
            Ok(value) => Ok(Count {
                value,
                span: t.span,
            }),
            Err(_) => Err(self.error_at(t.span, format!("number {} is too large", t.text))),
        }
    }

    /// A small non-negative integer (quantifier bounds, event indexes).
    pub(crate) fn small_int(&mut self, what: &str) -> PResult<u32> {
        if !matches!(self.kind(), TokenKind::Integer { long: false }) {
            return Err(self.expected(what, ""));
        }
        let t = self.bump();
        t.text.parse::<u32>().map_err(|_| {
            self.error_at(
                t.span,
                format!("number {} is too large (at most {})", t.text, u32::MAX),
            )
        })
    }

    /// True when the current token is a number followed by a unit word that does not start a
    /// function call (`5 min`, not `5 min(x)`).
    pub(crate) fn at_number_with_unit(&self) -> bool {
        matches!(
            self.kind(),
            TokenKind::Integer { .. } | TokenKind::Decimal { .. }
        ) && self.nth_kind(1) == TokenKind::Ident
            && unit_millis(&self.nth(1).text).is_some()
            && self.nth_kind(2) != TokenKind::LParen
    }

    /// `<number> <unit>`; call only when [`Self::at_number_with_unit`] holds.
    pub(crate) fn number_with_unit(&mut self) -> PResult<Duration> {
        let number = self.bump();
        let unit = self.bump();
        let span = number.span.to(unit.span);
        let factor = unit_millis(&unit.text).unwrap_or(1);
        match scale(&number.text, factor) {
            Some(millis) => Ok(Duration { millis, span }),
            None => Err(self.error_at(span, "duration is out of range")),
        }
    }

    /// `INTERVAL '5' SECOND`, `INTERVAL 5 MINUTES`, `INTERVAL '5 seconds'`.
    pub(crate) fn interval(&mut self) -> PResult<Duration> {
        let start = self.bump().span.start;
        let value = match self.kind() {
            TokenKind::String
            | TokenKind::DqString
            | TokenKind::Integer { .. }
            | TokenKind::Decimal { .. } => self.bump(),
            _ => return Err(self.expected("a number or quoted number", "after INTERVAL")),
        };
        let quoted = matches!(value.kind, TokenKind::String | TokenKind::DqString);
        let unit = (self.kind() == TokenKind::Ident)
            .then(|| unit_millis(&self.peek().text))
            .flatten();
        let millis = match unit {
            Some(factor) => {
                self.bump();
                scale(value.text.trim(), factor)
            }
            None if quoted => parse_duration_text(&value.text),
            None => {
                return Err(self.expected(
                    "a time unit (MILLISECOND, SECOND, MINUTE, HOUR, DAY, WEEK)",
                    "after the INTERVAL value",
                ))
            }
        };
        let span = self.span_from(start);
        match millis {
            Some(millis) => Ok(Duration { millis, span }),
            None => Err(self.error_at(
                value.span,
                format!(
                    "invalid INTERVAL value {} (expected a number, e.g. INTERVAL '5' SECOND)",
                    self.token_text(&value)
                ),
            )),
        }
    }

    /// A duration: `<number> <unit>` or `INTERVAL …`.
    pub(crate) fn duration(&mut self, context: &str) -> PResult<Duration> {
        if self.at_number_with_unit() {
            return self.number_with_unit();
        }
        if self.at_kw("INTERVAL") {
            return self.interval();
        }
        if matches!(
            self.kind(),
            TokenKind::Integer { .. } | TokenKind::Decimal { .. }
        ) {
            let number = self.bump();
            let ctx = format!("after '{}'", self.token_text(&number));
            return Err(self.expected("a time unit (ms, sec, min, hour, day, week)", &ctx));
        }
        Err(self.expected("a duration such as '5 sec'", context))
    }

    // -----------------------------------------------------------------------------------------
    // Types
    // -----------------------------------------------------------------------------------------

    /// A type: one word per [`TypeKind::from_name`], or `DOUBLE PRECISION`, optionally with
    /// ignored size arguments (`VARCHAR(20)`, `DECIMAL(10, 2)`).
    pub(crate) fn type_name(&mut self) -> PResult<TypeName> {
        if self.kind() != TokenKind::Ident {
            return Err(self.expected("a type (INT, LONG, DOUBLE, STRING, BOOL, …)", ""));
        }
        let t = self.bump();
        let mut span = t.span;
        let kind = if t.is_kw("DOUBLE") && self.at_kw("PRECISION") {
            span = span.to(self.bump().span);
            TypeKind::Double
        } else {
            match TypeKind::from_name(&t.text) {
                Some(k) => k,
                None => {
                    let hint = suggestion_suffix(&t.text, TypeKind::SPELLINGS.iter().copied());
                    return Err(self.error_at(t.span, format!("unknown type '{}'{hint}", t.text)));
                }
            }
        };
        if self.at(TokenKind::LParen) {
            self.bump();
            self.small_int("a size")?;
            if self.eat(TokenKind::Comma) {
                self.small_int("a scale")?;
            }
            span = span.to(self.expect(TokenKind::RParen, "after the type size")?.span);
        }
        Ok(TypeName { kind, span })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_text() {
        assert_eq!(parse_duration_text("30 sec"), Some(30_000));
        assert_eq!(parse_duration_text("1 hour"), Some(3_600_000));
        assert_eq!(parse_duration_text("500 ms"), Some(500));
        assert_eq!(parse_duration_text("5 seconds"), Some(5_000));
        assert_eq!(parse_duration_text("2 min"), Some(120_000));
        assert_eq!(parse_duration_text(" 2 MINUTES "), Some(120_000));
        assert_eq!(parse_duration_text("1.5 sec"), Some(1_500));
        assert_eq!(parse_duration_text("5s"), Some(5_000));
        assert_eq!(parse_duration_text("1 week"), Some(604_800_000));
        assert_eq!(parse_duration_text("3 Days"), Some(259_200_000));
        assert_eq!(parse_duration_text("250 millisec"), Some(250));
        assert_eq!(parse_duration_text("250 Milliseconds"), Some(250));
        assert_eq!(parse_duration_text("1000"), Some(1000));
        for bad in [
            "",
            "sec",
            "5 fortnights",
            "-5 sec",
            "1.2.3 s",
            ".",
            "5 sec x",
            "99999999999999999 week",
            "1e3 s",
        ] {
            assert_eq!(parse_duration_text(bad), None, "{bad}");
        }
    }

    #[test]
    fn units() {
        for (w, ms) in [
            ("ms", 1),
            ("MILLISECONDS", 1),
            ("s", 1000),
            ("Sec", 1000),
            ("min", 60_000),
            ("hours", 3_600_000),
            ("DAY", 86_400_000),
            ("weeks", 604_800_000),
        ] {
            assert_eq!(unit_millis(w), Some(ms));
        }
        assert_eq!(unit_millis("months"), None);
    }
}
