//! Text scans annotate runs before its models and patterns: which of a set of literals a text holds
//! (PII's secret shapes each need one of theirs), and the text lid.176 reads.

use aho_corasick::AhoCorasick;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::is_space;

/// A set of up to 64 literals, found in one pass.
#[pyclass(frozen)]
pub struct Literals {
    automaton: AhoCorasick,
    all: u64,
}

#[pymethods]
impl Literals {
    #[new]
    fn new(literals: Vec<String>) -> PyResult<Self> {
        if literals.is_empty() || literals.len() > 64 {
            return Err(PyValueError::new_err("Literals takes 1 to 64 literals"));
        }
        let automaton = AhoCorasick::new(&literals).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(Literals { automaton, all: u64::MAX >> (64 - literals.len()) })
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
