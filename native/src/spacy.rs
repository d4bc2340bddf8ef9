//! spaCy's tokenizer rules for one whitespace-free chunk, as curate/quality/words.py replays them
//! (`_affix_tokens`, `_merge_specials`): prefixes and suffixes peeled off in turn, URLs kept whole,
//! infixes split, special cases and their merge pass.
//!
//! The rules are `re` patterns (spacy_en.json). They are matched with fancy-regex, a backtracking
//! engine with `re`'s leftmost-first alternation and fixed-width lookbehind counted in characters,
//! after `translate` rewrites what the two read differently: `\w`, `\d` and `\s` become the classes
//! Python's Unicode database gives them (tables.rs), every escaped or class character is written
//! as a code point (so no `[`, `&&`, `--` or `\<` inside means something else), and any construct
//! whose meaning is not certain to be the same is refused: then the kernels leave every chunk the
//! rules could split to the Python functions.

use crate::tables;
use fancy_regex::Regex;
use std::collections::{HashMap, HashSet};
use std::fmt::Write;

type Fx = crate::Fx;

/// A `re` pattern, matched as the ordered alternation of its top-level branches: consecutive
/// branches without lookaround form one regex the regex crate matches (fast), and those with
/// lookaround one that fancy-regex's backtracking VM runs, from where the same branches without
/// their lookarounds first match. The leftmost match wins; at equal starts the earlier branch, as
/// in `re`.
pub struct Pattern {
    groups: Vec<(Regex, Option<Regex>)>, // (branches, where they may first match if they hold lookarounds)
}

impl Pattern {
    pub fn new(python: &str) -> Result<Pattern, String> {
        let branches = translate(python)?;
        let mut groups = Vec::new();
        for run in branches.chunk_by(|a, b| a.lookaround == b.lookaround) {
            let join = |part: fn(&Branch) -> &str| run.iter().map(part).collect::<Vec<&str>>().join("|");
            let regex = Regex::new(&join(|b| &b.source)).map_err(|e| e.to_string())?;
            let skeleton = match run[0].lookaround && !run.iter().any(|b| b.quantified_lookaround) {
                true => Some(Regex::new(&join(|b| &b.skeleton)).map_err(|e| e.to_string())?),
                false => None,
            };
            groups.push((regex, skeleton));
        }
        Ok(Pattern { groups })
    }

    /// `pattern.search(s, pos)` as byte offsets: lookbehinds see `s` before `pos`.
    pub fn search(&self, s: &str, pos: usize) -> Found<Option<(usize, usize)>> {
        let mut best: Option<(usize, usize)> = None;
        for (regex, skeleton) in &self.groups {
            let from = match skeleton {
                Some(skeleton) => match skeleton.find_from_pos(s, pos)? {
                    Some(m) => m.start(),
                    None => continue,
                },
                None => pos,
            };
            if let Some(m) = regex.find_from_pos(s, from)? {
                if best.is_none_or(|(start, _)| m.start() < start) {
                    best = Some((m.start(), m.end()));
                    if m.start() == pos {
                        break;
                    }
                }
            }
        }
        Ok(best)
    }

    /// `pattern.match(s)`: the leftmost match, if it starts at 0.
    fn match_at_start(&self, s: &str) -> Found<Option<usize>> {
        Ok(self.search(s, 0)?.filter(|&(a, _)| a == 0).map(|(_, b)| b))
    }
}

/// `\w`, `\d`, `\s` of a `str` pattern, as Python's `re` defines them.
fn escape_class(c: char) -> Option<(Vec<(u32, u32)>, bool)> {
    let (ranges, negated): (Vec<(u32, u32)>, bool) = match c {
        'w' | 'W' => (tables::ALNUM.iter().copied().chain([(0x5f, 0x5f)]).collect(), c == 'W'),
        'd' | 'D' => (tables::DECIMAL.to_vec(), c == 'D'),
        's' | 'S' => (tables::SPACE.to_vec(), c == 'S'),
        _ => return None,
    };
    Some((ranges, negated))
}

enum Escape {
    Char(char),
    Class(Vec<(u32, u32)>, bool),
}

/// The escape at `cs[i]` (after its backslash) and the index after it.
fn escape(cs: &[char], i: usize) -> Result<(Escape, usize), String> {
    let c = *cs.get(i).ok_or("trailing backslash")?;
    let hex = |n: usize| -> Result<(Escape, usize), String> {
        let digits: String = cs.get(i + 1..i + 1 + n).ok_or("short escape")?.iter().collect();
        let cp = u32::from_str_radix(&digits, 16).map_err(|e| e.to_string())?;
        Ok((Escape::Char(char::from_u32(cp).ok_or("not a character")?), i + 1 + n))
    };
    match c {
        'x' => hex(2),
        'u' => hex(4),
        'U' => hex(8),
        'n' => Ok((Escape::Char('\n'), i + 1)),
        't' => Ok((Escape::Char('\t'), i + 1)),
        'r' => Ok((Escape::Char('\r'), i + 1)),
        'f' => Ok((Escape::Char('\x0c'), i + 1)),
        'v' => Ok((Escape::Char('\x0b'), i + 1)),
        'a' => Ok((Escape::Char('\x07'), i + 1)),
        _ if c.is_ascii_alphanumeric() => match escape_class(c) {
            Some((ranges, negated)) => Ok((Escape::Class(ranges, negated), i + 1)),
            None => Err(format!("escape \\{c}")),
        },
        _ => Ok((Escape::Char(c), i + 1)),
    }
}

fn code_point(out: &mut String, c: u32) {
    write!(out, "\\x{{{c:x}}}").unwrap();
}

fn class(out: &mut String, ranges: &[(u32, u32)], negated: bool) {
    out.push_str(if negated { "[^" } else { "[" });
    for &(a, b) in ranges {
        code_point(out, a);
        if b != a {
            out.push('-');
            code_point(out, b);
        }
    }
    out.push(']');
}

/// A `re` character class starting at `cs[i]` (after its `[`), written out; the index after it.
fn python_class(cs: &[char], mut i: usize, out: &mut String) -> Result<usize, String> {
    let negated = cs.get(i) == Some(&'^');
    i += negated as usize;
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    let mut first = true;
    loop {
        let c = *cs.get(i).ok_or("unterminated class")?;
        if c == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let lo = if c == '\\' {
            let (e, next) = escape(cs, i + 1)?;
            i = next;
            match e {
                Escape::Char(c) => c,
                Escape::Class(r, false) => {
                    ranges.extend(r);
                    continue;
                }
                Escape::Class(_, true) => return Err("negated class escape in a class".into()),
            }
        } else {
            i += 1;
            c
        };
        let hi = if cs.get(i) == Some(&'-') && cs.get(i + 1).is_some_and(|&c| c != ']') {
            i += 1;
            if cs[i] == '\\' {
                let (e, next) = escape(cs, i + 1)?;
                i = next;
                match e {
                    Escape::Char(c) => c,
                    Escape::Class(..) => return Err("class escape ends a range".into()),
                }
            } else {
                i += 1;
                cs[i - 1]
            }
        } else {
            lo
        };
        if hi < lo {
            return Err("bad range".into());
        }
        ranges.push((lo as u32, hi as u32));
    }
    class(out, &ranges, negated);
    Ok(i)
}

/// A `{m,n}` quantifier at `cs[i]`, as `re` reads one (else `{` is a literal): the index after it.
fn quantifier(cs: &[char], i: usize, out: &mut String) -> Option<usize> {
    let end = i + cs[i..].iter().position(|&c| c == '}')?;
    let body: String = cs[i + 1..end].iter().collect();
    let (lo, hi) = body.split_once(',').unwrap_or((&body, &body));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if body.is_empty() || body == "," || !digits(lo) || !digits(hi) {
        return None;
    }
    let lo = if lo.is_empty() { "0" } else { lo };
    if body.contains(',') {
        write!(out, "{{{lo},{hi}}}").unwrap();
    } else {
        write!(out, "{{{lo}}}").unwrap();
    }
    Some(end + 1)
}

/// A top-level branch of a pattern in fancy-regex syntax, and the same without its lookarounds
/// (a regex crate pattern matching wherever the branch does, and maybe elsewhere).
#[derive(Default)]
struct Branch {
    source: String,
    skeleton: String,
    lookaround: bool,
    quantified_lookaround: bool, // then the skeleton may match less than the branch: not kept
}

/// The top-level branches of a `re` pattern; an error for anything not known to mean the same to
/// `re` and fancy-regex.
fn translate(python: &str) -> Result<Vec<Branch>, String> {
    let cs: Vec<char> = python.chars().collect();
    let mut branches = Vec::new();
    let mut branch = Branch::default();
    let (mut depth, mut i) = (0usize, 0usize);
    let mut lookaround_depth: Option<usize> = None; // the depth of the lookaround being read
    let mut lookaround_ended = false;
    while i < cs.len() {
        let c = cs[i];
        branch.quantified_lookaround |= lookaround_ended && matches!(c, '*' | '+' | '?' | '{');
        lookaround_ended = false;
        let mut out = String::new();
        match c {
            '\\' => {
                let (e, next) = escape(&cs, i + 1)?;
                match e {
                    Escape::Char(c) => code_point(&mut out, c as u32),
                    Escape::Class(r, negated) => class(&mut out, &r, negated),
                }
                i = next;
            }
            '[' => i = python_class(&cs, i + 1, &mut out)?,
            '(' => {
                let rest: String = cs[i..cs.len().min(i + 4)].iter().collect();
                if rest.starts_with("(?u)") && i == 0 {
                    i += 4; // str patterns are Unicode already
                    continue;
                }
                match ["(?:", "(?=", "(?!", "(?<=", "(?<!"].into_iter().find(|g| rest.starts_with(g)) {
                    Some(g) => {
                        if g != "(?:" {
                            branch.lookaround = true;
                            lookaround_depth.get_or_insert(depth);
                        }
                        out.push_str(g);
                        i += g.chars().count();
                    }
                    None if cs.get(i + 1) == Some(&'?') => return Err(format!("group {rest}")),
                    None => {
                        out.push('(');
                        i += 1;
                    }
                }
                depth += 1;
            }
            ')' => {
                depth = depth.checked_sub(1).ok_or("unbalanced )")?;
                out.push(')');
                i += 1;
            }
            '|' if depth == 0 => {
                branches.push(std::mem::take(&mut branch));
                i += 1;
                continue;
            }
            '{' => match quantifier(&cs, i, &mut out) {
                Some(next) => i = next,
                None => {
                    code_point(&mut out, '{' as u32);
                    i += 1;
                }
            },
            // `$` also matches before a final "\n" in `re`; chunks hold no whitespace.
            '|' | '.' | '^' | '$' | '*' | '+' | '?' => {
                out.push(c);
                i += 1;
            }
            _ if c.is_alphanumeric() || !c.is_ascii() => {
                out.push(c);
                i += 1;
            }
            _ => {
                code_point(&mut out, c as u32);
                i += 1;
            }
        }
        branch.source.push_str(&out);
        if lookaround_depth.is_none() {
            branch.skeleton.push_str(&out);
        } else if c == ')' && lookaround_depth == Some(depth) {
            lookaround_depth = None;
            lookaround_ended = true;
        }
    }
    if depth != 0 {
        return Err("unbalanced (".into());
    }
    branches.push(branch);
    Ok(branches)
}

struct Patterns {
    prefix: Pattern,
    suffix: Pattern,
    infix: Pattern,
    url: Pattern,
}

/// The rules of spacy_en.json and the special cases.
pub struct Rules {
    patterns: Result<Patterns, String>, // the reason when one cannot be matched as `re` does
    suffix_window: usize,
    pub specials: HashMap<String, Vec<String>, Fx>,
    merges: HashMap<Vec<String>, Vec<String>, Fx>,
    merge_max: usize,
    pub merge_first: HashSet<String, Fx>,
    pub chars: Vec<u8>, // per code point: PREFIX_FIRST, SUFFIX_LAST, INFIX_FIRST bits
}

pub const PREFIX_FIRST: u8 = 1;
pub const SUFFIX_LAST: u8 = 2;
pub const INFIX_FIRST: u8 = 4;

/// A chunk the kernels leave to the Python rules: fancy-regex gave up a search (its backtracking
/// limit), an infix matched the empty string (`re.finditer`'s rules for those are not replayed), or
/// a pattern could not be translated.
pub struct Fallback;

impl From<fancy_regex::Error> for Fallback {
    fn from(_: fancy_regex::Error) -> Fallback {
        Fallback
    }
}

type Found<T> = Result<T, Fallback>;

impl Rules {
    pub fn new(patterns: [&str; 4], suffix_window: usize, specials: HashMap<String, Vec<String>, Fx>,
               merges: HashMap<Vec<String>, Vec<String>, Fx>, chars: Vec<u8>) -> Rules {
        let [prefix, suffix, infix, url] = patterns.map(Pattern::new);
        let patterns = (|| Ok(Patterns { prefix: prefix?, suffix: suffix?, infix: infix?, url: url? }))();
        let merge_max = merges.keys().map(Vec::len).max().unwrap_or(0);
        let merge_first = merges.keys().map(|k| k[0].clone()).collect();
        Rules {
            patterns,
            suffix_window,
            specials,
            merges,
            merge_max,
            merge_first,
            chars,
        }
    }

    /// Why chunks the rules could split are left to Python, if they are.
    pub fn error(&self) -> Option<&str> {
        self.patterns.as_ref().err().map(String::as_str)
    }

    fn patterns(&self) -> Found<&Patterns> {
        self.patterns.as_ref().map_err(|_| Fallback)
    }

    fn has(&self, c: char, bit: u8) -> bool {
        self.chars[c as usize] & bit != 0
    }

    fn prefix_len(&self, s: &str) -> Found<usize> {
        match s.chars().next() {
            Some(c) if self.has(c, PREFIX_FIRST) => Ok(self.patterns()?.prefix.match_at_start(s)?.unwrap_or(0)),
            _ => Ok(0),
        }
    }

    /// words._suffix_len: the suffix searched in the last `suffix_window` characters first.
    fn suffix_len(&self, s: &str) -> Found<usize> {
        match s.chars().next_back() {
            Some(c) if self.has(c, SUFFIX_LAST) => {}
            _ => return Ok(0),
        }
        if let Some((start, _)) = s.char_indices().rev().nth(self.suffix_window) {
            let start = start + s[start..].chars().next().unwrap().len_utf8();
            let m = self.patterns()?.suffix.search(s, start)?;
            if m.is_none_or(|(a, _)| a > start) {
                return Ok(m.map_or(0, |(a, b)| b - a));
            }
        }
        Ok(self.patterns()?.suffix.search(s, 0)?.map_or(0, |(a, b)| b - a))
    }

    /// words._split_affixes: (prefixes, core, suffixes in text order).
    fn split_affixes<'a>(&self, mut s: &'a str) -> Found<(Vec<&'a str>, &'a str, Vec<&'a str>)> {
        let (mut prefixes, mut suffixes) = (Vec::new(), Vec::new());
        let mut last_len = 0;
        while !s.is_empty() && s.len() != last_len && !self.specials.contains_key(s) {
            last_len = s.len();
            let pre = self.prefix_len(s)?;
            if pre > 0 && self.specials.contains_key(&s[pre..]) {
                prefixes.push(&s[..pre]);
                s = &s[pre..];
                break;
            }
            let suf = self.suffix_len(&s[pre..])?;
            if suf > 0 && self.specials.contains_key(&s[..s.len() - suf]) {
                suffixes.push(&s[s.len() - suf..]);
                s = &s[..s.len() - suf];
                break;
            }
            if pre > 0 && suf > 0 && pre + suf <= s.len() {
                prefixes.push(&s[..pre]);
                suffixes.push(&s[s.len() - suf..]);
                s = &s[pre..s.len() - suf];
            } else if pre > 0 {
                prefixes.push(&s[..pre]);
                s = &s[pre..];
            } else if suf > 0 {
                suffixes.push(&s[s.len() - suf..]);
                s = &s[..s.len() - suf];
            }
        }
        suffixes.reverse();
        Ok((prefixes, s, suffixes))
    }

    /// words._split_infixes: a match at position 0 is ignored.
    fn split_infixes<'a>(&self, s: &'a str, out: &mut Vec<&'a str>) -> Found<()> {
        let mut start = 0;
        let mut pos = 0;
        while let Some((a, b)) = self.patterns()?.infix.search(s, pos)? {
            if a == b {
                return Err(Fallback);
            }
            pos = b;
            if a == 0 {
                continue;
            }
            if a != start {
                out.push(&s[start..a]);
            }
            out.push(&s[a..b]);
            start = b;
        }
        if start < s.len() {
            out.push(&s[start..]);
        }
        Ok(())
    }

    /// words._affix_tokens then words._merge_specials: a chunk's tokens.
    pub fn tokens<'a>(&'a self, chunk: &'a str) -> Found<Vec<&'a str>> {
        if let Some(tokens) = self.specials.get(chunk) {
            return Ok(self.merge(tokens.iter().map(String::as_str).collect()));
        }
        let (mut out, core, suffixes) = self.split_affixes(chunk)?;
        if core.is_empty() {
        } else if let Some(tokens) = self.specials.get(core) {
            out.extend(tokens.iter().map(String::as_str));
        } else if !core.chars().any(|c| self.has(c, INFIX_FIRST)) || self.patterns()?.url.match_at_start(core)?.is_some() {
            out.push(core);
        } else {
            self.split_infixes(core, &mut out)?;
        }
        out.extend(suffixes);
        Ok(self.merge(out))
    }

    /// words._merge_specials (rare: some token starts a merged special case).
    fn merge<'a>(&'a self, tokens: Vec<&'a str>) -> Vec<&'a str> {
        if !tokens.iter().any(|t| self.merge_first.contains(*t)) {
            return tokens;
        }
        let n = tokens.len();
        let mut found = Vec::new();
        for i in 0..n {
            if self.merge_first.contains(tokens[i]) {
                for j in i + 1..=n.min(i + self.merge_max) {
                    if self.merges.contains_key(&owned(&tokens[i..j])) {
                        found.push((i, j));
                    }
                }
            }
        }
        found.sort_by_key(|&(i, j)| (i as isize - j as isize, i));
        let mut taken = Vec::new();
        let mut seen = vec![false; n];
        for (i, j) in found {
            if !seen[i] && !seen[j - 1] {
                taken.push((i, j));
            }
            seen[i..j].iter_mut().for_each(|s| *s = true);
        }
        taken.sort();
        let mut out = Vec::with_capacity(n);
        let mut pos = 0;
        for (i, j) in taken {
            out.extend_from_slice(&tokens[pos..i]);
            out.extend(self.merges[&owned(&tokens[i..j])].iter().map(String::as_str));
            pos = j;
        }
        out.extend_from_slice(&tokens[pos..]);
        out
    }
}

fn owned(tokens: &[&str]) -> Vec<String> {
    tokens.iter().map(|&t| t.into()).collect()
}
