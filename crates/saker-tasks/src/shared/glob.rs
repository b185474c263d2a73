//! Java's `glob:` path matching (`FileSystem.getPathMatcher`), used for output-file patterns:
//! `*` and `?` stay within one path segment, `**` crosses segments, `[a-z]`/`[!a]` classes
//! never match `/`, `{a,b}` alternatives (not nested), `\` escapes.

/// A compiled glob pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Glob(Vec<Token>);

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Char(char),
    /// `?`
    One,
    /// `*`
    Segment,
    /// `**`
    Any,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    Alternatives(Vec<Vec<Token>>),
}

impl Glob {
    /// Compiles `pattern`, with Java's error cases (unclosed class or group, nested group,
    /// trailing escape).
    pub fn new(pattern: &str) -> Result<Glob, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut pos = 0;
        let tokens = parse(&chars, &mut pos, false)
            .map_err(|message| format!("invalid glob pattern '{pattern}': {message}"))?;
        Ok(Glob(tokens))
    }

    /// Whether the whole of `path` (segments separated by `/`) matches.
    pub fn matches(&self, path: &str) -> bool {
        let text: Vec<char> = path.chars().collect();
        match_tokens(&self.0, &text)
    }
}

fn parse(chars: &[char], pos: &mut usize, in_group: bool) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    while let Some(&c) = chars.get(*pos) {
        *pos += 1;
        match c {
            '\\' => {
                let escaped = chars.get(*pos).ok_or("no character to escape")?;
                *pos += 1;
                tokens.push(Token::Char(*escaped));
            }
            '?' => tokens.push(Token::One),
            '*' if chars.get(*pos) == Some(&'*') => {
                *pos += 1;
                tokens.push(Token::Any);
            }
            '*' => tokens.push(Token::Segment),
            '[' => tokens.push(parse_class(chars, pos)?),
            '{' if in_group => return Err("nested groups are not supported".into()),
            '{' => {
                let mut alternatives = Vec::new();
                loop {
                    alternatives.push(parse(chars, pos, true)?);
                    match chars.get(*pos - 1) {
                        Some(',') => continue,
                        Some('}') => break,
                        _ => return Err("missing '}'".into()),
                    }
                }
                tokens.push(Token::Alternatives(alternatives));
            }
            ',' | '}' if in_group => return Ok(tokens),
            c => tokens.push(Token::Char(c)),
        }
    }
    if in_group {
        // Let the caller see that the group never closed.
        *pos += 1;
    }
    Ok(tokens)
}

fn parse_class(chars: &[char], pos: &mut usize) -> Result<Token, String> {
    let negated = matches!(chars.get(*pos), Some('!') | Some('^'));
    if negated {
        *pos += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = *chars.get(*pos).ok_or("missing ']'")?;
        *pos += 1;
        if c == ']' && !first {
            return Ok(Token::Class { negated, ranges });
        }
        first = false;
        if chars.get(*pos) == Some(&'-') && chars.get(*pos + 1).is_some_and(|&end| end != ']') {
            let end = chars[*pos + 1];
            *pos += 2;
            ranges.push((c, end));
        } else {
            ranges.push((c, c));
        }
    }
}

fn match_tokens(tokens: &[Token], text: &[char]) -> bool {
    let Some((token, rest)) = tokens.split_first() else {
        return text.is_empty();
    };
    match token {
        Token::Char(c) => text.first() == Some(c) && match_tokens(rest, &text[1..]),
        Token::One => text.first().is_some_and(|&c| c != '/') && match_tokens(rest, &text[1..]),
        Token::Class { negated, ranges } => {
            text.first().is_some_and(|&c| {
                c != '/' && ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }) && match_tokens(rest, &text[1..])
        }
        Token::Segment => {
            let segment = text.iter().position(|&c| c == '/').unwrap_or(text.len());
            (0..=segment).any(|skip| match_tokens(rest, &text[skip..]))
        }
        Token::Any => (0..=text.len()).any(|skip| match_tokens(rest, &text[skip..])),
        Token::Alternatives(alternatives) => alternatives.iter().any(|alternative| {
            let joined: Vec<Token> = alternative.iter().chain(rest).cloned().collect();
            match_tokens(&joined, text)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    #[track_caller]
    fn check(pattern: &str, yes: &[&str], no: &[&str]) {
        let glob = Glob::new(pattern).unwrap();
        for path in yes {
            assert!(glob.matches(path), "{pattern} should match {path}");
        }
        for path in no {
            assert!(!glob.matches(path), "{pattern} should not match {path}");
        }
    }

    #[test]
    fn java_glob_semantics() {
        check("*.txt", &["a.txt", ".txt"], &["a.csv", "d/a.txt"]);
        check("out/*", &["out/stay.txt"], &["out", "out/a/b", "other/x"]);
        check("sub/**", &["sub/a", "sub/dir/b.txt"], &["sub", "subx/a"]);
        check("**/*.csv", &["a/b.csv", "a/b/c.csv"], &["b.csv"]);
        check("?.txt", &["a.txt"], &["ab.txt", "/.txt"]);
        check("[a-c]x[!0-9]", &["axz", "cx_"], &["dxz", "ax1", "a/x"]);
        check("*.{csv,parquet}", &["a.csv", "b.parquet"], &["c.json"]);
        check("a\\*", &["a*"], &["ab"]);
        check(
            "input.txt",
            &["input.txt"],
            &["input.txt2", "dir/input.txt"],
        );
        for bad in ["[ab", "{a,b", "{a,{b}}", "a\\"] {
            assert!(Glob::new(bad).is_err(), "{bad}");
        }
    }
}
