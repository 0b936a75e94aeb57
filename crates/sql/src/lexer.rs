//! Hand-written lexer: source text → tokens, each carrying the span of its source text.
//!
//! Keywords are not distinguished here: every bare word is an [`TokenKind::Ident`] and the parser
//! compares words case-insensitively. Lexical errors (unknown characters, unterminated strings and
//! comments) are reported as diagnostics; the lexer never fails and always ends with
//! [`TokenKind::Eof`].

use crate::diagnostic::Diagnostic;
use crate::span::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A bare word: identifier or keyword.
    Ident,
    /// `` `name` `` — always an identifier.
    QuotedIdent,
    /// `"text"` — a string literal in expression position, an identifier in name position.
    DqString,
    /// `'text'`
    String,
    /// `42`, or `42L` (`long`). The token text holds the digits only.
    Integer {
        long: bool,
    },
    /// `3.5`, `.5`, `1e3`, `2d`, or `3.5f` (`float`). The token text holds the number without
    /// its suffix.
    Decimal {
        float: bool,
    },
    Arrow,
    Eq,
    EqEq,
    /// `!=` or `<>`
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Concat,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Semicolon,
    Dot,
    At,
    Question,
    Colon,
    Eof,
}

impl TokenKind {
    /// How the token is named in messages (`')'`, `identifier`, …).
    pub fn describe(self) -> &'static str {
        match self {
            TokenKind::Ident => "identifier",
            TokenKind::QuotedIdent => "quoted identifier",
            TokenKind::DqString => "double-quoted text",
            TokenKind::String => "string",
            TokenKind::Integer { .. } => "integer",
            TokenKind::Decimal { .. } => "number",
            TokenKind::Arrow => "'->'",
            TokenKind::Eq => "'='",
            TokenKind::EqEq => "'=='",
            TokenKind::NotEq => "'!='",
            TokenKind::Lt => "'<'",
            TokenKind::LtEq => "'<='",
            TokenKind::Gt => "'>'",
            TokenKind::GtEq => "'>='",
            TokenKind::Plus => "'+'",
            TokenKind::Minus => "'-'",
            TokenKind::Star => "'*'",
            TokenKind::Slash => "'/'",
            TokenKind::Percent => "'%'",
            TokenKind::Concat => "'||'",
            TokenKind::LParen => "'('",
            TokenKind::RParen => "')'",
            TokenKind::LBracket => "'['",
            TokenKind::RBracket => "']'",
            TokenKind::LBrace => "'{'",
            TokenKind::RBrace => "'}'",
            TokenKind::Comma => "','",
            TokenKind::Semicolon => "';'",
            TokenKind::Dot => "'.'",
            TokenKind::At => "'@'",
            TokenKind::Question => "'?'",
            TokenKind::Colon => "':'",
            TokenKind::Eof => "end of input",
        }
    }
}

/// One token. `text` is the identifier name or string content (quotes removed, escapes
/// resolved), the digits of a number (without suffix), and empty for punctuation.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub text: String,
    pub span: Span,
}

impl Token {
    /// True for a bare word equal to `kw`, ignoring ASCII case.
    pub fn is_kw(&self, kw: &str) -> bool {
        self.kind == TokenKind::Ident && self.text.eq_ignore_ascii_case(kw)
    }
}

/// Converts a byte offset to the `u32` used by spans (saturating for absurdly large inputs).
pub(crate) fn off(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic() || (!c.is_ascii() && c.is_alphabetic())
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric() || (!c.is_ascii() && c.is_alphanumeric())
}

/// Splits `src` into tokens. The last token is always `Eof`.
pub fn tokenize(src: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let lexed = lex(src);
    (lexed.tokens, lexed.diags)
}

/// The result of lexing, with the start of an unterminated string or comment (which runs to
/// the end of the input, so parse errors after it are only consequences).
pub(crate) struct Lexed {
    pub tokens: Vec<Token>,
    pub diags: Vec<Diagnostic>,
    pub unterminated: Option<u32>,
}

pub(crate) fn lex(src: &str) -> Lexed {
    let mut lx = Lexer {
        src,
        pos: 0,
        tokens: Vec::new(),
        diags: Vec::new(),
        unterminated: None,
    };
    lx.run();
    Lexed {
        tokens: lx.tokens,
        diags: lx.diags,
        unterminated: lx.unterminated,
    }
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    tokens: Vec<Token>,
    diags: Vec<Diagnostic>,
    unterminated: Option<u32>,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.src.get(self.pos..).and_then(|s| s.chars().next())
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.src.get(self.pos..).and_then(|s| s.chars().nth(n))
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn push(&mut self, kind: TokenKind, text: String, start: usize) {
        self.tokens.push(Token {
            kind,
            text,
            span: Span::new(off(start), off(self.pos)),
        });
    }

    fn error(&mut self, start: usize, end: usize, msg: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(Span::new(off(start), off(end)), msg));
    }

    fn run(&mut self) {
        while let Some(c) = self.peek() {
            let start = self.pos;
            if c.is_whitespace() {
                self.bump();
                continue;
            }
            if c == '-' && self.peek_at(1) == Some('-') {
                while let Some(c) = self.peek() {
                    if c == '\n' {
                        break;
                    }
                    self.bump();
                }
                continue;
            }
            if c == '/' && self.peek_at(1) == Some('*') {
                self.block_comment(start);
                continue;
            }
            if is_ident_start(c) {
                while self.peek().is_some_and(is_ident_continue) {
                    self.bump();
                }
                let text = self.src.get(start..self.pos).unwrap_or("").to_string();
                self.push(TokenKind::Ident, text, start);
                continue;
            }
            if c.is_ascii_digit()
                || (c == '.' && self.peek_at(1).is_some_and(|d| d.is_ascii_digit()))
            {
                self.number(start);
                continue;
            }
            match c {
                '\'' => self.quoted(start, '\'', TokenKind::String, "string literal"),
                '"' => self.quoted(start, '"', TokenKind::DqString, "double-quoted text"),
                '`' => self.quoted(start, '`', TokenKind::QuotedIdent, "quoted identifier"),
                _ => self.punct(start, c),
            }
        }
        let end = self.src.len();
        self.tokens.push(Token {
            kind: TokenKind::Eof,
            text: String::new(),
            span: Span::new(off(end), off(end)),
        });
    }

    fn block_comment(&mut self, start: usize) {
        self.pos += 2;
        loop {
            match self.peek() {
                None => {
                    self.error(
                        start,
                        start + 2,
                        "unterminated block comment ('/*' without '*/')",
                    );
                    self.unterminated = Some(off(start));
                    return;
                }
                Some('*') if self.peek_at(1) == Some('/') => {
                    self.pos += 2;
                    return;
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
    }

    /// A quoted token; the quote character doubled inside stands for itself.
    fn quoted(&mut self, start: usize, quote: char, kind: TokenKind, what: &str) {
        self.bump();
        let mut text = String::new();
        loop {
            match self.bump() {
                None => {
                    self.error(
                        start,
                        self.src.len(),
                        format!("unterminated {what} (no closing {quote} before the end)"),
                    );
                    self.unterminated = Some(off(start));
                    break;
                }
                Some(c) if c == quote => {
                    if self.peek() == Some(quote) {
                        self.bump();
                        text.push(quote);
                    } else {
                        break;
                    }
                }
                Some(c) => text.push(c),
            }
        }
        if kind == TokenKind::QuotedIdent && text.is_empty() {
            self.error(start, self.pos, "empty quoted identifier");
        }
        self.push(kind, text, start);
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
    }

    fn number(&mut self, start: usize) {
        let mut decimal = false;
        self.digits();
        if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            decimal = true;
            self.bump();
            self.digits();
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let exp = match self.peek_at(1) {
                Some(d) if d.is_ascii_digit() => true,
                Some('+' | '-') => self.peek_at(2).is_some_and(|d| d.is_ascii_digit()),
                _ => false,
            };
            if exp {
                decimal = true;
                self.bump();
                if matches!(self.peek(), Some('+' | '-')) {
                    self.bump();
                }
                self.digits();
            }
        }
        let text = self.src.get(start..self.pos).unwrap_or("").to_string();
        // A one-letter suffix counts only when it is not the start of a longer word, so that
        // `5days` or `10ms` lex as a number followed by a unit word.
        let suffix = self
            .peek()
            .filter(|_| !self.peek_at(1).is_some_and(is_ident_continue));
        match suffix {
            Some('L' | 'l') if !decimal => {
                self.bump();
                self.push(TokenKind::Integer { long: true }, text, start);
            }
            Some('L' | 'l') => {
                self.bump();
                self.error(
                    start,
                    self.pos,
                    "the suffix 'L' (LONG) cannot be used on a decimal number",
                );
                self.push(TokenKind::Decimal { float: false }, text, start);
            }
            Some('f' | 'F') => {
                self.bump();
                self.push(TokenKind::Decimal { float: true }, text, start);
            }
            Some('d' | 'D') => {
                self.bump();
                self.push(TokenKind::Decimal { float: false }, text, start);
            }
            _ if decimal => self.push(TokenKind::Decimal { float: false }, text, start),
            _ => self.push(TokenKind::Integer { long: false }, text, start),
        }
    }

    fn punct(&mut self, start: usize, c: char) {
        let next = self.peek_at(1);
        let (kind, len) = match (c, next) {
            ('-', Some('>')) => (TokenKind::Arrow, 2),
            ('=', Some('=')) => (TokenKind::EqEq, 2),
            ('!', Some('=')) => (TokenKind::NotEq, 2),
            ('<', Some('>')) => (TokenKind::NotEq, 2),
            ('<', Some('=')) => (TokenKind::LtEq, 2),
            ('>', Some('=')) => (TokenKind::GtEq, 2),
            ('|', Some('|')) => (TokenKind::Concat, 2),
            ('=', _) => (TokenKind::Eq, 1),
            ('<', _) => (TokenKind::Lt, 1),
            ('>', _) => (TokenKind::Gt, 1),
            ('+', _) => (TokenKind::Plus, 1),
            ('-', _) => (TokenKind::Minus, 1),
            ('*', _) => (TokenKind::Star, 1),
            ('/', _) => (TokenKind::Slash, 1),
            ('%', _) => (TokenKind::Percent, 1),
            ('(', _) => (TokenKind::LParen, 1),
            (')', _) => (TokenKind::RParen, 1),
            ('[', _) => (TokenKind::LBracket, 1),
            (']', _) => (TokenKind::RBracket, 1),
            ('{', _) => (TokenKind::LBrace, 1),
            ('}', _) => (TokenKind::RBrace, 1),
            (',', _) => (TokenKind::Comma, 1),
            (';', _) => (TokenKind::Semicolon, 1),
            ('.', _) => (TokenKind::Dot, 1),
            ('@', _) => (TokenKind::At, 1),
            ('?', _) => (TokenKind::Question, 1),
            (':', _) => (TokenKind::Colon, 1),
            _ => {
                self.bump();
                let hint = match c {
                    '!' => " (use NOT or '!=')",
                    '&' => " (use AND)",
                    '|' => " (use OR, or '||' to concatenate strings)",
                    _ => "",
                };
                self.error(start, self.pos, format!("unexpected character '{c}'{hint}"));
                return;
            }
        };
        self.pos += len;
        self.push(kind, String::new(), start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        let (toks, diags) = tokenize(src);
        assert!(diags.is_empty(), "{diags:?}");
        toks.into_iter().map(|t| t.kind).collect()
    }

    fn texts(src: &str) -> Vec<String> {
        tokenize(src).0.into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn words_strings_and_quoted_names() {
        use TokenKind::*;
        assert_eq!(
            kinds("select \"a b\" `c` 'it''s' x_1"),
            vec![Ident, DqString, QuotedIdent, String, Ident, Eof]
        );
        assert_eq!(
            texts("'it''s' \"a\"\"b\" `x``y`")[..3],
            ["it's", "a\"b", "x`y"]
        );
    }

    #[test]
    fn numbers_and_suffixes() {
        use TokenKind::*;
        let (toks, diags) = tokenize("42 42L 3.5 3.5f .5 1e3 2.5E-2 7d 5days 10ms 1.");
        assert!(diags.is_empty());
        let got: Vec<(TokenKind, &str)> = toks.iter().map(|t| (t.kind, t.text.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (Integer { long: false }, "42"),
                (Integer { long: true }, "42"),
                (Decimal { float: false }, "3.5"),
                (Decimal { float: true }, "3.5"),
                (Decimal { float: false }, ".5"),
                (Decimal { float: false }, "1e3"),
                (Decimal { float: false }, "2.5E-2"),
                (Decimal { float: false }, "7"),
                (Integer { long: false }, "5"),
                (Ident, "days"),
                (Integer { long: false }, "10"),
                (Ident, "ms"),
                (Integer { long: false }, "1"),
                (Dot, ""),
                (Eof, ""),
            ]
        );
    }

    #[test]
    fn operators() {
        use TokenKind::*;
        assert_eq!(
            kinds("-> = == != <> < <= > >= + - * / % || ( ) [ ] { } , ; . @ ? :"),
            vec![
                Arrow, Eq, EqEq, NotEq, NotEq, Lt, LtEq, Gt, GtEq, Plus, Minus, Star, Slash,
                Percent, Concat, LParen, RParen, LBracket, RBracket, LBrace, RBrace, Comma,
                Semicolon, Dot, At, Question, Colon, Eof
            ]
        );
    }

    #[test]
    fn comments_are_skipped() {
        use TokenKind::*;
        assert_eq!(
            kinds("a -- comment ; x\n/* block\n ; */ b - -1"),
            vec![Ident, Ident, Minus, Minus, Integer { long: false }, Eof]
        );
    }

    #[test]
    fn spans_are_byte_ranges() {
        let (toks, _) = tokenize("ab  'cd'\n->");
        assert_eq!(toks[0].span, Span::new(0, 2));
        assert_eq!(toks[1].span, Span::new(4, 8));
        assert_eq!(toks[2].span, Span::new(9, 11));
        assert_eq!(toks[3].span, Span::new(11, 11));
    }

    #[test]
    fn lexical_errors_are_reported_not_fatal() {
        for src in [
            "'abc", "\"abc", "`abc", "/* abc", "a # b", "a & b", "3.5L", "``", "é ∑",
        ] {
            let (toks, diags) = tokenize(src);
            assert!(!diags.is_empty(), "{src}");
            assert_eq!(toks.last().map(|t| t.kind), Some(TokenKind::Eof));
        }
        let (_, diags) = tokenize("x /* never closed");
        assert_eq!(diags[0].span, Span::new(2, 4));
        assert!(diags[0].message.contains("unterminated block comment"));
    }

    #[test]
    fn unicode_identifiers() {
        let (toks, diags) = tokenize("prix_€ été");
        assert_eq!(toks[0].text, "prix_");
        assert_eq!(diags.len(), 1);
        assert_eq!(toks[1].text, "été");
    }
}
