//! The lexer of RFC 7644 §3.4.2.2's filter grammar: words, JSON strings (decoded),
//! parentheses and brackets, each with its byte offset and whether whitespace came
//! before it. The parser ([`super::parser`]) and the PATCH path parser read its tokens.
//!
//! A word is a run of anything but whitespace, parentheses, brackets and quotes; what it
//! means is the parser's business. Two words or strings without whitespace between them
//! (`eq"john"`) are refused here, since the grammar needs the `SP`.

use super::parser::{FilterError, FilterErrorKind};

/// A token's kind. Words are runs of anything but whitespace, parentheses, brackets and
/// quotes; what a word means (attribute path, operator, keyword, literal) depends on
/// where it stands, because `and`, `not` or `pr` are also valid attribute names.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'a> {
    Word(&'a str),
    Str(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token<'a> {
    pub(crate) tok: Tok<'a>,
    pub(crate) start: usize,
    /// Whether whitespace came between this token and the one before it.
    pub(crate) spaced: bool,
}

/// Whether `b` is whitespace: space, tab, CR or LF.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_delimiter(b: u8) -> bool {
    is_space(b) || matches!(b, b'(' | b')' | b'[' | b']' | b'"')
}

/// Lazily lexes, so that errors come out in left-to-right order: `userName eqq "abc`
/// reports the operator, not the unterminated string after it.
pub(crate) struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    /// Whether the last token lexed was a word or a string (for the whitespace rule).
    last_was_atom: bool,
    peeked: Vec<Token<'a>>,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(input: &'a str) -> Self {
        Self {
            input,
            pos: 0,
            last_was_atom: false,
            peeked: Vec::new(),
        }
    }

    pub(crate) fn input_len(&self) -> usize {
        self.input.len()
    }

    /// The next token, or `None` at the end of the input.
    pub(crate) fn next(&mut self) -> Result<Option<Token<'a>>, FilterError> {
        if !self.peeked.is_empty() {
            return Ok(Some(self.peeked.remove(0)));
        }
        self.lex()
    }

    /// The `n`th token ahead (0 = the next one) without consuming it.
    pub(crate) fn peek_nth(&mut self, n: usize) -> Result<Option<&Token<'a>>, FilterError> {
        while self.peeked.len() <= n {
            match self.lex()? {
                Some(tok) => self.peeked.push(tok),
                None => return Ok(None),
            }
        }
        Ok(self.peeked.get(n))
    }

    pub(crate) fn peek(&mut self) -> Result<Option<&Token<'a>>, FilterError> {
        self.peek_nth(0)
    }

    fn lex(&mut self) -> Result<Option<Token<'a>>, FilterError> {
        let bytes = self.input.as_bytes();
        let before = self.pos;
        while self.pos < bytes.len() && is_space(bytes[self.pos]) {
            self.pos += 1;
        }
        let spaced = self.pos > before;
        let start = self.pos;
        let Some(&first) = bytes.get(start) else {
            return Ok(None);
        };
        let tok = match first {
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b'[' => Tok::LBracket,
            b']' => Tok::RBracket,
            b'"' => Tok::Str(self.lex_string(start)?),
            _ => {
                let mut end = start;
                while end < bytes.len() && !is_delimiter(bytes[end]) {
                    end += 1;
                }
                // Delimiters are ASCII, so `end` is on a char boundary.
                Tok::Word(self.input.get(start..end).unwrap_or_default())
            }
        };
        let is_atom = matches!(tok, Tok::Word(_) | Tok::Str(_));
        if is_atom && self.last_was_atom && !spaced {
            return Err(FilterError::new(FilterErrorKind::MissingWhitespace, start));
        }
        self.last_was_atom = is_atom;
        match tok {
            Tok::Word(w) => self.pos = start + w.len(),
            Tok::Str(_) => {} // lex_string has moved `pos` past the closing quote.
            _ => self.pos = start + 1,
        }
        Ok(Some(Token { tok, start, spaced }))
    }

    /// Decodes a JSON string (RFC 8259 §7) starting at the opening quote at `start`.
    fn lex_string(&mut self, start: usize) -> Result<String, FilterError> {
        let input = self.input;
        let mut out = String::new();
        let mut chars = input.get(start + 1..).unwrap_or_default().char_indices();
        let at = |offset: usize| start + 1 + offset;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = at(i) + 1;
                    return Ok(out);
                }
                '\\' => {
                    let Some((_, esc)) = chars.next() else {
                        return Err(FilterError::new(FilterErrorKind::UnterminatedString, start));
                    };
                    let decoded = match esc {
                        '"' => '"',
                        '\\' => '\\',
                        '/' => '/',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'u' => {
                            let unit = hex4(&mut chars, start, at(i))?;
                            decode_utf16_escape(unit, &mut chars, start, at(i))?
                        }
                        _ => return Err(FilterError::new(FilterErrorKind::BadEscape, at(i))),
                    };
                    out.push(decoded);
                }
                c if (c as u32) < 0x20 => {
                    return Err(FilterError::new(FilterErrorKind::ControlCharacter, at(i)));
                }
                c => out.push(c),
            }
        }
        Err(FilterError::new(FilterErrorKind::UnterminatedString, start))
    }
}

/// Reads the four hex digits of a `\u` escape whose backslash is at `escape_at`.
fn hex4(
    chars: &mut std::str::CharIndices<'_>,
    string_start: usize,
    escape_at: usize,
) -> Result<u32, FilterError> {
    let mut unit = 0u32;
    for _ in 0..4 {
        match chars.next() {
            None => {
                return Err(FilterError::new(
                    FilterErrorKind::UnterminatedString,
                    string_start,
                ));
            }
            Some((_, c)) => match c.to_digit(16) {
                Some(d) => unit = unit * 16 + d,
                None => return Err(FilterError::new(FilterErrorKind::BadEscape, escape_at)),
            },
        }
    }
    Ok(unit)
}

/// Turns a `\uXXXX` unit into a char, reading the low half of a surrogate pair when the
/// unit is a high surrogate. Lone surrogates have no char, so they are errors.
fn decode_utf16_escape(
    unit: u32,
    chars: &mut std::str::CharIndices<'_>,
    string_start: usize,
    escape_at: usize,
) -> Result<char, FilterError> {
    let bad = FilterError::new(FilterErrorKind::BadEscape, escape_at);
    match unit {
        0xD800..=0xDBFF => {
            for expected in ['\\', 'u'] {
                match chars.next() {
                    Some((_, c)) if c == expected => {}
                    Some(_) => return Err(bad),
                    None => {
                        return Err(FilterError::new(
                            FilterErrorKind::UnterminatedString,
                            string_start,
                        ));
                    }
                }
            }
            let low = hex4(chars, string_start, escape_at)?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return Err(bad);
            }
            char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)).ok_or(bad)
        }
        _ => char::from_u32(unit).ok_or(bad),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(input: &str) -> Result<Vec<Token<'_>>, FilterError> {
        let mut lexer = Lexer::new(input);
        let mut out = Vec::new();
        while let Some(token) = lexer.next()? {
            out.push(token);
        }
        Ok(out)
    }

    #[test]
    fn words_strings_and_delimiters_come_with_their_offsets_and_spacing() {
        // Act
        let toks = tokens("emails[type eq \"w\\u00e9\"] or (x pr)").unwrap();

        // Assert
        let kinds: Vec<(Tok<'_>, usize, bool)> = toks
            .into_iter()
            .map(|t| (t.tok, t.start, t.spaced))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (Tok::Word("emails"), 0, false),
                (Tok::LBracket, 6, false),
                (Tok::Word("type"), 7, false),
                (Tok::Word("eq"), 12, true),
                (Tok::Str("w\u{e9}".to_owned()), 15, true),
                (Tok::RBracket, 24, false),
                (Tok::Word("or"), 26, true),
                (Tok::LParen, 29, true),
                (Tok::Word("x"), 30, false),
                (Tok::Word("pr"), 32, true),
                (Tok::RParen, 34, false),
            ]
        );
    }

    #[test]
    fn escapes_decode_as_in_json_surrogate_pairs_included() {
        // Act
        let toks = tokens(r#""\"\\\/\b\f\n\r\t\ud83d\ude00""#).unwrap();

        // Assert
        assert_eq!(
            toks[0].tok,
            Tok::Str("\"\\/\u{8}\u{c}\n\r\t\u{1f600}".to_owned())
        );
    }

    #[test]
    fn errors_come_out_in_left_to_right_order_and_only_when_reached() {
        // Arrange
        let mut lexer = Lexer::new("a \"unterminated");

        // Act
        let first = lexer.next();
        let second = lexer.next();

        // Assert
        assert_eq!(first.unwrap().map(|t| t.tok), Some(Tok::Word("a")));
        assert_eq!(
            second.unwrap_err(),
            FilterError::new(FilterErrorKind::UnterminatedString, 2)
        );
    }

    #[test]
    fn peeking_does_not_consume() {
        // Arrange
        let mut lexer = Lexer::new("a b c");

        // Act
        let third = lexer.peek_nth(2).unwrap().map(|t| t.tok.clone());
        let first = lexer.next().unwrap().map(|t| t.tok);

        // Assert
        assert_eq!(third, Some(Tok::Word("c")));
        assert_eq!(first, Some(Tok::Word("a")));
        assert_eq!(lexer.input_len(), 5);
    }

    #[test]
    fn atoms_that_touch_are_refused_but_delimiters_need_no_space() {
        assert_eq!(
            tokens("eq\"x\"").unwrap_err(),
            FilterError::new(FilterErrorKind::MissingWhitespace, 2)
        );
        assert!(tokens("(a)[b]").is_ok());
    }
}
