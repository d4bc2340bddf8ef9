//! Text scans annotate runs before its models and patterns: which of a set of literals a text holds
//! (PII's secret shapes each need one of theirs), where PII's number pattern can match, and the
//! text lid.176 reads.

use aho_corasick::AhoCorasick;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::{flags, is_space, space_at, ALNUM, DECIMAL};

/// A set of up to 64 literals, found in one pass.
#[pyclass(frozen)]
pub struct Literals {
    automaton: AhoCorasick,
    all: u64,
}

#[pymethods]
impl Literals {
    /// `ascii_case_insensitive`: A-Z and a-z match each other (no other character changes case).
    #[new]
    #[pyo3(signature = (literals, ascii_case_insensitive=false))]
    fn new(literals: Vec<String>, ascii_case_insensitive: bool) -> PyResult<Self> {
        if literals.is_empty() || literals.len() > 64 {
            return Err(PyValueError::new_err("Literals takes 1 to 64 literals"));
        }
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(ascii_case_insensitive)
            .build(&literals)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(Literals { automaton, all: u64::MAX >> (64 - literals.len()) })
    }

    /// Where the lines (cut at "\n") holding a literal start, in code points, ascending.
    fn line_starts(&self, py: Python<'_>, text: &str) -> Vec<usize> {
        py.allow_threads(|| {
            let (mut starts, mut from, mut counted, mut chars) = (Vec::new(), 0, 0, 0);
            while let Some(m) = self.automaton.find(&text[from..]) {
                let at = from + m.start();
                let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                chars += text[counted..start].chars().count();
                counted = start;
                starts.push(chars);
                match text[at..].find('\n') {
                    Some(end) => from = at + end + 1,
                    None => break,
                }
            }
            starts
        })
    }

    /// A bit mask of the literals `text` holds: bit i for the i-th literal.
    fn found(&self, py: Python<'_>, text: &str) -> u64 {
        py.allow_threads(|| {
            let mut mask = 0u64;
            for m in self.automaton.find_overlapping_iter(text) {
                mask |= 1 << m.pattern().as_usize();
                if mask == self.all {
                    break;
                }
            }
            mask
        })
    }
}

/// langid.normalize_for_lid's text before any lower-casing: each run of whitespace (`re`'s `\s+`)
/// one space, the ends stripped, at most `max_chars` characters of the first `2 * max_chars` read;
/// with its numbers of ASCII upper-case letters and of ASCII letters.
#[pyfunction]
#[pyo3(signature = (text, max_chars))]
pub fn lid_text(text: &str, max_chars: Option<usize>) -> (String, usize, usize) {
    let read = max_chars.map_or(usize::MAX, |m| m.saturating_mul(2));
    let room = max_chars.unwrap_or(usize::MAX);
    let mut out = String::with_capacity(text.len().min(read.saturating_mul(4)));
    let (mut n, mut upper, mut lower, mut space) = (0usize, 0usize, 0usize, false);
    for c in text.chars().take(read) {
        if is_space(c) {
            space = true;
            continue;
        }
        if space && n > 0 {
            if n == room {
                break;
            }
            out.push(' ');
            n += 1;
        }
        space = false;
        if n == room {
            break;
        }
        upper += c.is_ascii_uppercase() as usize;
        lower += c.is_ascii_lowercase() as usize;
        out.push(c);
        n += 1;
    }
    (out, upper, upper + lower)
}

/// Where pii._NUMBER can start a match in `text` (code point offsets, ascending): every start of
/// a match is here. Its first character is `+`, `(` or a digit (`re`'s `\d`) not right after a word
/// character (`\w`) or a dot, and one of its branches must be able to go on: an IPv4 address (at
/// most 3 digits, then a dot), a card number (a first digit 2-6, then 13 or more digits, or digits
/// then a space or hyphen and a digit) or a phone number's first group (`+` and 1-3 digits, `(`,
/// an optional `+`, 1-5 digits and `)`, or 2-5 digits) followed by a separator (space, tab, `.`,
/// `/`, `-`). Only the first digit of a run is looked at (the others follow a word character).
#[pyfunction]
pub fn number_starts(py: Python<'_>, text: &str) -> Vec<usize> {
    py.allow_threads(|| {
        let chars: Vec<char> = text.chars().collect();
        let at = |j: usize| chars.get(j).copied();
        let digit = |j: usize| at(j).is_some_and(|c| flags(c) & DECIMAL != 0);
        let run = |j: usize| (j..).take_while(|&k| digit(k)).count();
        let sep = |j: usize| matches!(at(j), Some(' ' | '\t' | '.' | '/' | '-'));
        let mut starts = Vec::new();
        for (i, &c) in chars.iter().enumerate() {
            if !(c == '+' || c == '(' || flags(c) & DECIMAL != 0) {
                continue;
            }
            if i > 0 && (flags(chars[i - 1]) & ALNUM != 0 || matches!(chars[i - 1], '_' | '.')) {
                continue;
            }
            let possible = match c {
                '+' => {
                    let r = run(i + 1);
                    (1..=3).contains(&r) && sep(i + 1 + r)
                }
                '(' => {
                    let j = i + 1 + (at(i + 1) == Some('+')) as usize;
                    let r = run(j);
                    (1..=5).contains(&r) && at(j + r) == Some(')') && sep(j + r + 1)
                }
                _ => {
                    let l = run(i);
                    let next = at(i + l);
                    (l <= 3 && next == Some('.'))
                        || (('2'..='6').contains(&c) && (l >= 13 || matches!(next, Some(' ' | '-')) && digit(i + l + 1)))
                        || ((2..=5).contains(&l) && sep(i + l))
                }
            };
            if possible {
                starts.push(i);
            }
        }
        starts
    })
}

/// The matches of pii._ASSIGN_OP (`[:=>]\s*["']`) in `text`, as `re.finditer` finds them: (start,
/// end) in code points.
#[pyfunction]
pub fn assign_ops(py: Python<'_>, text: &str) -> Vec<(usize, usize)> {
    py.allow_threads(|| {
        let b = text.as_bytes();
        let (mut ops, mut from, mut counted, mut chars) = (Vec::new(), 0, 0, 0);
        while let Some(k) = memchr::memchr3(b':', b'=', b'>', &b[from..]) {
            let op = from + k;
            let mut j = op + 1;
            while j < b.len() {
                let (space, len) = space_at(text, j);
                if !space {
                    break;
                }
                j += len;
            }
            if j < b.len() && matches!(b[j], b'"' | b'\'') {
                chars += text[counted..op].chars().count();
                let end = chars + text[op..=j].chars().count();
                ops.push((chars, end));
                (chars, counted, from) = (end, j + 1, j + 1);
            } else {
                from = op + 1;
            }
        }
        ops
    })
}
