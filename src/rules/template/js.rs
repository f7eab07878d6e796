//! Just enough of a JavaScript lexer to tell, at a point in a script an editor wrote,
//! whether a value lands in code or inside a string, comment, regex or template literal.
//! In code a value must become a string literal; anywhere else it must stay data inside
//! the token it is in. [`super::escape`] does both; this only tells which.
//!
//! The one ambiguity of JavaScript's grammar that matters, `/` as division or as the start
//! of a regex, is settled the way browsers' own tokenizers and Go's html/template settle
//! it: by what precedes it. A wrong guess is still safe, because the escaping used outside
//! code lets a value form nothing but identifiers.

/// Where the lexer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Code,
    /// In a `'…'` or `"…"` string; `escaped` after a backslash.
    Str {
        quote: char,
        escaped: bool,
    },
    /// In the text of a template literal; `dollar` after a `$`.
    Template {
        escaped: bool,
        dollar: bool,
    },
    LineComment,
    /// In a `/* … */` comment; `star` after a `*`.
    BlockComment {
        star: bool,
    },
    /// In a regex literal; `class` inside `[…]`.
    Regex {
        class: bool,
        escaped: bool,
    },
}

/// Keywords after which `/` starts a regex rather than a division.
const REGEX_AFTER: [&str; 14] = [
    "return",
    "typeof",
    "instanceof",
    "in",
    "of",
    "new",
    "delete",
    "void",
    "throw",
    "case",
    "do",
    "else",
    "yield",
    "await",
];

/// Reads a script as written, a character at a time.
#[derive(Debug, Clone)]
pub struct JsLexer {
    state: State,
    /// Whether an operand may start here, so that a `/` would start a regex.
    operand_expected: bool,
    /// A `/` just read in code, not yet known to be `//`, `/*`, a regex or a division.
    slash: bool,
    /// The word being read in code, to tell `return /x/` from `a / b`.
    word: String,
    /// Each open `${` of a template literal, with the `{` depth it opened at.
    substitutions: Vec<usize>,
    braces: usize,
}

impl Default for JsLexer {
    fn default() -> Self {
        Self {
            state: State::Code,
            operand_expected: true,
            slash: false,
            word: String::new(),
            substitutions: Vec::new(),
            braces: 0,
        }
    }
}

impl JsLexer {
    /// Whether a value inserted here would be in code (not in a string, comment, regex or
    /// template text).
    pub fn in_code(&self) -> bool {
        self.state == State::Code && !(self.slash && self.operand_expected)
    }

    /// Reads `text`.
    pub fn feed(&mut self, text: &str) {
        for c in text.chars() {
            self.step(c);
        }
    }

    /// A value was inserted here. In code it is a string literal: an operand, after which
    /// `/` divides.
    pub fn value(&mut self) {
        if self.slash && self.operand_expected {
            self.slash = false;
            self.state = State::Regex { class: false, escaped: false };
        }
        if self.state == State::Code {
            self.slash = false;
            self.word.clear();
            self.operand_expected = false;
        }
    }

    fn step(&mut self, c: char) {
        self.state = match self.state {
            State::Code => return self.code(c),
            State::Str { quote, escaped } => match c {
                _ if escaped => State::Str { quote, escaped: false },
                '\\' => State::Str { quote, escaped: true },
                '\n' => State::Code,
                c if c == quote => self.operand_ended(),
                _ => State::Str { quote, escaped: false },
            },
            State::Template { escaped, dollar } => match c {
                _ if escaped => State::Template { escaped: false, dollar: false },
                '\\' => State::Template { escaped: true, dollar: false },
                '`' => self.operand_ended(),
                '{' if dollar => {
                    self.substitutions.push(self.braces);
                    self.operand_expected = true;
                    State::Code
                }
                _ => State::Template { escaped: false, dollar: c == '$' },
            },
            State::LineComment if c == '\n' => State::Code,
            State::LineComment => State::LineComment,
            State::BlockComment { star: true } if c == '/' => State::Code,
            State::BlockComment { .. } => State::BlockComment { star: c == '*' },
            State::Regex { class, escaped } => match c {
                _ if escaped => State::Regex { class, escaped: false },
                '\\' => State::Regex { class, escaped: true },
                '[' => State::Regex { class: true, escaped: false },
                ']' => State::Regex { class: false, escaped: false },
                '/' if !class => self.operand_ended(),
                '\n' => State::Code,
                _ => State::Regex { class, escaped: false },
            },
        };
    }

    fn operand_ended(&mut self) -> State {
        self.operand_expected = false;
        self.word.clear();
        State::Code
    }

    fn code(&mut self, c: char) {
        if std::mem::take(&mut self.slash) {
            match c {
                '/' => {
                    self.state = State::LineComment;
                    return;
                }
                '*' => {
                    self.state = State::BlockComment { star: false };
                    return;
                }
                _ if self.operand_expected => {
                    self.state = State::Regex { class: false, escaped: false };
                    return self.step(c);
                }
                // A division: an operand follows.
                _ => self.operand_expected = true,
            }
        }
        if c.is_alphanumeric() || c == '_' || c == '$' {
            self.word.push(c);
            return;
        }
        if !self.word.is_empty() {
            self.operand_expected = REGEX_AFTER.contains(&self.word.as_str());
            self.word.clear();
        }
        match c {
            '/' => self.slash = true,
            '\'' | '"' => self.state = State::Str { quote: c, escaped: false },
            '`' => self.state = State::Template { escaped: false, dollar: false },
            '}' if self.substitutions.last() == Some(&self.braces) => {
                self.substitutions.pop();
                self.state = State::Template { escaped: false, dollar: false };
            }
            '{' => {
                self.braces += 1;
                self.operand_expected = true;
            }
            '}' => {
                self.braces = self.braces.saturating_sub(1);
                self.operand_expected = true;
            }
            ')' | ']' => self.operand_expected = false,
            c if c.is_whitespace() => {}
            _ => self.operand_expected = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a value inserted after `script` lands in code.
    fn code_after(script: &str) -> bool {
        let mut lexer = JsLexer::default();
        lexer.feed(script);
        lexer.in_code()
    }

    #[test]
    fn strings_comments_and_templates_are_not_code() {
        assert!(code_after("var a = "));
        assert!(!code_after("var a = \""));
        assert!(!code_after("var a = 'it\\'s "));
        assert!(code_after("var a = 'x'; var b = "));
        assert!(!code_after("// note: "));
        assert!(code_after("// note\nvar a = "));
        assert!(!code_after("/* a * b "));
        assert!(code_after("/* a */ f("));
        assert!(!code_after("var t = `hello "));
        assert!(code_after("var t = `hello ${"));
        assert!(code_after("var t = `hello ${ {a: 1}.a + "));
        assert!(!code_after("var t = `hello ${ {a: 1}.a } and "));
    }

    #[test]
    fn slashes_are_told_apart_by_what_precedes_them() {
        assert!(!code_after("var r = /ab"), "a regex after =");
        assert!(!code_after("return /"), "a regex after return");
        assert!(!code_after("x = a.split(/[/"), "a class holds a slash");
        assert!(code_after("x = a / b; y = "), "a division");
        assert!(code_after("x = (a) / "), "a division after )");
        assert!(code_after("x = /a/g.test(s) && "), "after a finished regex");
    }

    #[test]
    fn a_value_is_an_operand() {
        let mut lexer = JsLexer::default();
        lexer.feed("var a = ");
        assert!(lexer.in_code());
        lexer.value();
        lexer.feed(" / 2; var b = ");
        assert!(lexer.in_code(), "the slash after a value divides");
        lexer.feed("/");
        assert!(!lexer.in_code(), "a regex may start here");
    }
}
