//! Compiler-style diagnostics: `app.sql:LINE:COL: error: message`, the source line and a caret.

use crate::span::{line_col, Span};
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in an app, located by a span of its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub span: Span,
    /// Extra lines printed after the snippet (`= help: …`).
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span,
            notes: Vec::new(),
        }
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Renders the diagnostic like a compiler does, e.g.
    ///
    /// ```text
    /// app.sql:3:8: error: unknown attribute 'prcie' in stream 'Trades' (did you mean 'price'?)
    ///   3 | SELECT prcie FROM Trades
    ///     |        ^^^^^
    /// ```
    pub fn render(&self, file: &str, src: &str) -> String {
        let (line, col) = line_col(src, self.span.start);
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = format!("{file}:{line}:{col}: {kind}: {}\n", self.message);
        let text = src.lines().nth(line - 1).unwrap_or("");
        let gutter = line.to_string().len();
        let _ = writeln!(out, "{:>gutter$} |", "");
        let _ = writeln!(out, "{line} | {text}");
        let line_chars = text.chars().count();
        let start = (col - 1).min(line_chars);
        let wanted = src
            .get(self.span.start as usize..self.span.end as usize)
            .map(|s| s.split('\n').next().unwrap_or("").chars().count())
            .unwrap_or(1);
        let width = wanted.clamp(1, (line_chars - start).max(1));
        let _ = writeln!(
            out,
            "{:>gutter$} | {}{}",
            "",
            " ".repeat(start),
            "^".repeat(width)
        );
        for note in &self.notes {
            let _ = writeln!(out, "{:>gutter$} = {note}", "");
        }
        out
    }
}

/// Renders several diagnostics, followed by a summary line when there are errors.
pub fn render_all(diags: &[Diagnostic], file: &str, src: &str) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.render(file, src));
    }
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if errors > 0 {
        let _ = writeln!(
            out,
            "error: could not compile '{file}' ({errors} error{})",
            if errors == 1 { "" } else { "s" }
        );
    }
    out
}

/// Edit distance for "did you mean" suggestions: Levenshtein plus adjacent transpositions
/// (optimal string alignment), so that `prcie` is one edit away from `price`. Case-insensitive.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let same = |x: char, y: char| x.eq_ignore_ascii_case(&y);
    // Three rows: i-2, i-1 and i.
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 0..a.len() {
        cur[0] = i + 1;
        for j in 0..b.len() {
            let cost = usize::from(!same(a[i], b[j]));
            let mut d = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            if i > 0 && j > 0 && same(a[i], b[j - 1]) && same(a[i - 1], b[j]) {
                d = d.min(prev2[j - 1] + 1);
            }
            cur[j + 1] = d;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `name`, if it is close enough to be a plausible misspelling.
pub fn did_you_mean<'a, I>(name: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    // Short names need a closer match: one edit turns any one-letter name into another.
    let len = name.chars().count();
    let limit = if len < 3 {
        1
    } else {
        (len / 3).max(1) + usize::from(len > 6)
    };
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| {
            // For one- and two-letter names only a missing or extra last letter counts.
            let c = c.to_lowercase();
            *d <= limit && (len >= 3 || *d == 0 || c.starts_with(&lower) || lower.starts_with(&c))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `" (did you mean 'x'?)"` or the empty string.
pub fn suggestion_suffix<'a, I>(name: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    match did_you_mean(name, candidates) {
        Some(s) => format!(" (did you mean '{s}'?)"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_line_and_caret() {
        let src = "CREATE STREAM T (a INT);\nSELECT prcie FROM T;";
        let d = Diagnostic::error(Span::new(32, 37), "unknown attribute 'prcie'");
        let text = d.render("app.sql", src);
        assert_eq!(
            text,
            "app.sql:2:8: error: unknown attribute 'prcie'\n  |\n2 | SELECT prcie FROM T;\n  |        ^^^^^\n"
        );
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("y", ["s", "x"]), None);
        assert_eq!(did_you_mean("ID", ["id"]), Some("id"));
        assert_eq!(did_you_mean("prcie", ["price", "volume"]), Some("price"));
        assert_eq!(did_you_mean("zzz", ["price", "volume"]), None);
        assert_eq!(did_you_mean("Trade", ["Trades"]), Some("Trades"));
    }
}
