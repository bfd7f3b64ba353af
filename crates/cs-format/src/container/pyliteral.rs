//! A parser for the Python literals found in numpy `.npy` headers: dicts, lists, tuples,
//! strings, integers, `True`/`False`/`None`. Nothing is ever evaluated.

/// A parsed Python literal.
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    Str(String),
    Int(i128),
    Bool(bool),
    None,
    List(Vec<PyValue>),
    Tuple(Vec<PyValue>),
    Dict(Vec<(PyValue, PyValue)>),
}

impl PyValue {
    /// The elements of a list or tuple.
    pub fn as_seq(&self) -> Option<&[PyValue]> {
        match self {
            PyValue::List(v) | PyValue::Tuple(v) => Some(v),
            _ => None,
        }
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PyValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// A syntax error: the character offset into the text and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Offset in characters from the start of the text.
    pub offset: usize,
    /// What was wrong.
    pub what: String,
}

/// Parse one Python literal that fills `text` (surrounding white space allowed).
pub fn parse(text: &str) -> Result<PyValue, SyntaxError> {
    let chars: Vec<char> = text.chars().collect();
    let mut p = Parser { s: &chars, i: 0 };
    let v = p.value(0)?;
    p.skip_ws();
    if p.i != chars.len() {
        return Err(p.err("unexpected text after the header literal"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [char],
    i: usize,
}

const MAX_DEPTH: usize = 64;

impl Parser<'_> {
    fn err(&self, what: impl Into<String>) -> SyntaxError {
        SyntaxError {
            offset: self.i,
            what: what.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(c) if c.is_whitespace()) {
            self.i += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<PyValue, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.err("literal nested too deeply"));
        }
        self.skip_ws();
        match self.peek() {
            None => Err(self.err("unexpected end of header")),
            Some('{') => self.dict(depth),
            Some('[') => Ok(PyValue::List(self.seq(']', depth)?.0)),
            Some('(') => {
                let (items, trailing_comma) = self.seq(')', depth)?;
                // `(x)` is just x in Python; `(x,)` is a tuple.
                if items.len() == 1 && !trailing_comma {
                    Ok(items.into_iter().next().unwrap_or(PyValue::None))
                } else {
                    Ok(PyValue::Tuple(items))
                }
            }
            Some('\'') | Some('"') => Ok(PyValue::Str(self.string()?)),
            Some(c) if c == 'u' || c == 'b' => {
                if matches!(self.s.get(self.i + 1), Some('\'') | Some('"')) {
                    self.i += 1;
                    Ok(PyValue::Str(self.string()?))
                } else {
                    self.word()
                }
            }
            Some(c) if c == '-' || c == '+' || c.is_ascii_digit() => self.int(),
            Some(_) => self.word(),
        }
    }

    fn word(&mut self) -> Result<PyValue, SyntaxError> {
        let start = self.i;
        while matches!(self.peek(), Some(c) if c.is_alphanumeric() || c == '_') {
            self.i += 1;
        }
        let w: String = self.s[start..self.i].iter().collect();
        match w.as_str() {
            "True" => Ok(PyValue::Bool(true)),
            "False" => Ok(PyValue::Bool(false)),
            "None" => Ok(PyValue::None),
            _ => {
                self.i = start;
                Err(self.err(format!(
                    "unexpected {} in header literal",
                    if w.is_empty() {
                        format!("'{}'", self.peek().unwrap_or(' '))
                    } else {
                        format!("'{w}'")
                    }
                )))
            }
        }
    }

    fn int(&mut self) -> Result<PyValue, SyntaxError> {
        let start = self.i;
        if matches!(self.peek(), Some('-') | Some('+')) {
            self.i += 1;
        }
        let digits_start = self.i;
        while matches!(self.peek(), Some(c) if c.is_ascii_digit() || c == '_') {
            self.i += 1;
        }
        if self.i == digits_start {
            return Err(self.err("expected a digit"));
        }
        let text: String = self.s[start..self.i]
            .iter()
            .filter(|&&c| c != '_')
            .collect();
        // Python 2 long suffix, as very old numpy wrote it: `(1000L,)`.
        if matches!(self.peek(), Some('L') | Some('l')) {
            self.i += 1;
        }
        if matches!(self.peek(), Some('.') | Some('e') | Some('E') | Some('j')) {
            return Err(self.err("expected an integer"));
        }
        text.parse::<i128>()
            .map(PyValue::Int)
            .map_err(|_| SyntaxError {
                offset: start,
                what: "integer out of range".into(),
            })
    }

    fn expect(&mut self, c: char) -> Result<(), SyntaxError> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(format!(
                "expected '{c}', found {}",
                self.peek()
                    .map(|c| format!("'{c}'"))
                    .unwrap_or_else(|| "end of header".into())
            )))
        }
    }

    /// Items up to `close`; also says whether the last item had a trailing comma.
    fn seq(&mut self, close: char, depth: usize) -> Result<(Vec<PyValue>, bool), SyntaxError> {
        self.i += 1;
        let mut items = Vec::new();
        let mut trailing = false;
        loop {
            self.skip_ws();
            if self.peek() == Some(close) {
                self.i += 1;
                return Ok((items, trailing));
            }
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(',') => {
                    self.i += 1;
                    trailing = true;
                }
                Some(c) if c == close => {
                    self.i += 1;
                    return Ok((items, false));
                }
                _ => return Err(self.err(format!("expected ',' or '{close}'"))),
            }
        }
    }

    fn dict(&mut self, depth: usize) -> Result<PyValue, SyntaxError> {
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some('}') {
                self.i += 1;
                return Ok(PyValue::Dict(items));
            }
            let k = self.value(depth + 1)?;
            self.expect(':')?;
            let v = self.value(depth + 1)?;
            items.push((k, v));
            self.skip_ws();
            match self.peek() {
                Some(',') => self.i += 1,
                Some('}') => {
                    self.i += 1;
                    return Ok(PyValue::Dict(items));
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        let start = self.i;
        let quote = self.s[self.i];
        self.i += 1;
        let mut out = String::new();
        loop {
            let c = match self.peek() {
                None => {
                    return Err(SyntaxError {
                        offset: start,
                        what: "unterminated string".into(),
                    })
                }
                Some(c) => c,
            };
            self.i += 1;
            if c == quote {
                return Ok(out);
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let e = self.peek().ok_or_else(|| self.err("unterminated escape"))?;
            self.i += 1;
            match e {
                '\\' => out.push('\\'),
                '\'' => out.push('\''),
                '"' => out.push('"'),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                'a' => out.push('\u{7}'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'v' => out.push('\u{b}'),
                'x' => out.push(self.hex_escape(2)?),
                'u' => out.push(self.hex_escape(4)?),
                'U' => out.push(self.hex_escape(8)?),
                '\n' => {}
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        }
    }

    fn hex_escape(&mut self, n: usize) -> Result<char, SyntaxError> {
        let end = self.i + n;
        if end > self.s.len() {
            return Err(self.err("truncated escape"));
        }
        let hex: String = self.s[self.i..end].iter().collect();
        let code = u32::from_str_radix(&hex, 16).map_err(|_| self.err("bad hex escape"))?;
        self.i = end;
        char::from_u32(code).ok_or_else(|| self.err("escape is not a character"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_numpy_header_dict() {
        let v = parse("{'descr': [('uid', '<u8'), ('x', '<f4', (2, 3))], 'fortran_order': False, 'shape': (1000,), }   \n").unwrap();
        let PyValue::Dict(items) = v else { panic!() };
        assert_eq!(items.len(), 3);
        assert_eq!(items[2].1, PyValue::Tuple(vec![PyValue::Int(1000)]));
        assert_eq!(items[1].1, PyValue::Bool(false));
    }

    #[test]
    fn parenthesised_value_without_comma_is_not_a_tuple() {
        assert_eq!(parse("(5)").unwrap(), PyValue::Int(5));
        assert_eq!(parse("()").unwrap(), PyValue::Tuple(vec![]));
    }

    #[test]
    fn decodes_escapes_and_both_quotes() {
        assert_eq!(parse(r#""it's""#).unwrap(), PyValue::Str("it's".into()));
        assert_eq!(
            parse(r"'a\'b\\c\x41\u00e9'").unwrap(),
            PyValue::Str("a'b\\cAé".into())
        );
        assert_eq!(parse("u'x'").unwrap(), PyValue::Str("x".into()));
    }

    #[test]
    fn accepts_python2_long_suffix() {
        assert_eq!(
            parse("(10L,)").unwrap(),
            PyValue::Tuple(vec![PyValue::Int(10)])
        );
    }

    #[test]
    fn reports_offset_of_a_syntax_error() {
        let e = parse("{'descr': [('uid' '<u8')]}").unwrap_err();
        assert_eq!(e.offset, 18);
        assert!(parse("{'a': 1").is_err());
        assert!(parse("{'a': 1.5}").is_err());
        assert!(parse("__import__('os')").is_err());
    }
}
