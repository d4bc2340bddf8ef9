//! Native kernels of curate's quality signals (`curate/quality/`): the same values as the Python
//! functions, computed over UTF-8. Python's semantics are replayed exactly: `str.split()`,
//! `str.strip()` and `str.splitlines()` whitespace and line breaks, `re`'s `\s` and `\d`, lengths in
//! code points, and the character classes of `tables.rs` (generated from Python's Unicode database).
//!
//! Word splitting keeps the words it has seen (a chunk that is its own word is found among them)
//! and a cache of split chunks: a chunk that spaCy's affix, infix, URL or special-case rules could
//! split, or that holds a script written without spaces, is split once by those rules (`spacy.rs`)
//! and into the script's character words. A chunk the rules cannot match as `re` does is split by
//! the Python rules (`chunk_tokens`, the callable `Kernels` is made with).

mod fasttext;
mod scan;
mod spacy;
mod tables;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::collections::{HashMap, HashSet};
use std::borrow::Borrow;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::OnceLock;

const SPACE: u16 = 1;
const ALPHA: u16 = 2;
const ALNUM: u16 = 4;
const DECIMAL: u16 = 8;
const GOPHER_SYMBOL: u16 = 16;
const TERMINAL: u16 = 32;
const NO_SPACE: u16 = 64;
const ONE_CHAR_WORD: u16 = 128;
const MARK: u16 = 256;

static FLAGS: OnceLock<Vec<u16>> = OnceLock::new();

fn build_flags() -> Vec<u16> {
    let mut flags = vec![0u16; 0x110000];
    for (class, bit) in [
        (tables::SPACE, SPACE), (tables::ALPHA, ALPHA), (tables::ALNUM, ALNUM), (tables::DECIMAL, DECIMAL),
        (tables::GOPHER_SYMBOL, GOPHER_SYMBOL), (tables::TERMINAL, TERMINAL), (tables::NO_SPACE, NO_SPACE),
        (tables::ONE_CHAR_WORD, ONE_CHAR_WORD), (tables::MARK, MARK),
    ] {
        for &(a, b) in class {
            for f in &mut flags[a as usize..=b as usize] {
                *f |= bit;
            }
        }
    }
    flags
}

#[inline]
fn flags(c: char) -> u16 {
    FLAGS.get_or_init(build_flags)[c as usize]
}

#[inline]
fn is_space(c: char) -> bool {
    flags(c) & SPACE != 0
}

/// `str.lstrip()`: ASCII bytes tested by table, other characters decoded.
fn lstrip(s: &str) -> &str {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let (space, len) = space_at(s, i);
        if !space {
            break;
        }
        i += len;
    }
    &s[i..]
}

/// `str.rstrip()`.
fn rstrip(s: &str) -> &str {
    let b = s.as_bytes();
    let mut end = b.len();
    while end > 0 {
        if b[end - 1] < 0x80 {
            if !ASCII_SPACE[b[end - 1] as usize] {
                break;
            }
            end -= 1;
        } else {
            let c = s[..end].chars().next_back().unwrap();
            if !is_space(c) {
                break;
            }
            end -= c.len_utf8();
        }
    }
    &s[..end]
}

fn strip(s: &str) -> &str {
    lstrip(rstrip(s))
}

/// The first index from `i` on where `pred` holds for `b`'s byte, else `b.len()`. Blocks of 16
/// bytes are tested at once: the fold into a bit mask (of a `pred` without `||`) vectorizes.
#[inline(always)]
fn find_byte(b: &[u8], mut i: usize, pred: impl Fn(u8) -> bool) -> usize {
    while i + 16 <= b.len() {
        let block: &[u8; 16] = b[i..i + 16].try_into().unwrap();
        let mask = block.iter().enumerate().fold(0u16, |m, (k, &x)| m | (pred(x) as u16) << k);
        if mask != 0 {
            return i + mask.trailing_zeros() as usize;
        }
        i += 16;
    }
    b[i..].iter().position(|&x| pred(x)).map_or(b.len(), |p| i + p)
}

fn nchars(s: &str) -> usize {
    s.chars().count()
}

/// Python's ASCII whitespace: \t \n \v \f \r, \x1c-\x1f and the space.
const ASCII_SPACE: [bool; 128] = {
    let mut t = [false; 128];
    let mut c = 0;
    while c < 128 {
        t[c] = matches!(c, 9..=13 | 0x1c..=0x20);
        c += 1;
    }
    t
};

/// Whether the character starting at byte `i` of `s` is whitespace, and its length in bytes.
#[inline]
fn space_at(s: &str, i: usize) -> (bool, usize) {
    let b = s.as_bytes()[i];
    if b < 0x80 {
        (ASCII_SPACE[b as usize], 1)
    } else {
        let c = s[i..].chars().next().unwrap();
        (is_space(c), c.len_utf8())
    }
}

/// `str.split()`: runs of Python whitespace cut the text; no empty pieces.
struct SplitWs<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Iterator for SplitWs<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let n = self.s.len();
        while self.i < n {
            let (space, len) = space_at(self.s, self.i);
            if !space {
                break;
            }
            self.i += len;
        }
        if self.i == n {
            return None;
        }
        let start = self.i;
        let b = self.s.as_bytes();
        while self.i < n {
            if b[self.i] < 0x80 {
                if ASCII_SPACE[b[self.i] as usize] {
                    break;
                }
                self.i += 1;
                continue;
            }
            let (space, len) = space_at(self.s, self.i);
            if space {
                break;
            }
            self.i += len;
        }
        Some(&self.s[start..self.i])
    }
}

fn split_ws(s: &str) -> SplitWs<'_> {
    SplitWs { s, i: 0 }
}

/// `str.splitlines()`: \n \r \r\n \v \f \x1c \x1d \x1e \x85 \u2028 \u2029 end a line.
fn splitlines(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    // Bytes that may start a line break: \n \v \f \r, \x1c-\x1e, and \x85's and \u2028/9's lead bytes.
    let may_break = |x: u8| (x.wrapping_sub(b'\n') < 4) | (x.wrapping_sub(0x1c) < 3) | (x == 0xc2) | (x == 0xe2);
    loop {
        i = find_byte(b, i, may_break);
        if i == b.len() {
            break;
        }
        let end = match b[i] {
            b'\n' | 0x0b | 0x0c | 0x1c..=0x1e => i + 1,
            b'\r' => i + 1 + (b.get(i + 1) == Some(&b'\n')) as usize,
            0xc2 if b.get(i + 1) == Some(&0x85) => i + 2,
            0xe2 if b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xa8 | 0xa9)) => i + 3,
            _ => {
                i += 1;
                continue;
            }
        };
        out.push(&s[start..i]);
        start = end;
        i = end;
    }
    if start < b.len() {
        out.push(&s[start..]);
    }
    out
}

/// `re.split(r"\n{min,}", s)`.
fn split_newline_runs(s: &str, min: usize) -> Vec<&str> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        if b[i] == b'\n' {
            let mut j = i;
            while j < b.len() && b[j] == b'\n' {
                j += 1;
            }
            if j - i >= min {
                out.push(&s[start..i]);
                start = j;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out.push(&s[start..]);
    out
}

/// gopher.duplicates: (items equal to an earlier item, their characters).
fn duplicates(items: &[&str]) -> (usize, usize) {
    let mut seen: HashSet<&str, Fx> = HashSet::with_capacity_and_hasher(items.len(), Fx::default());
    let (mut n, mut chars) = (0, 0);
    for item in items {
        if !seen.insert(item) {
            n += 1;
            chars += nchars(item);
        }
    }
    (n, chars)
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 { 0.0 } else { num as f64 / den as f64 }
}

/// FxHash (rustc's), with a final rotation so hashbrown's bucket bits see the high bits.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    /// Whole 8-byte words, the last one overlapping the one before; shorter inputs (most words)
    /// read as two overlapping 4-byte halves, or three bytes: no loop over single bytes.
    fn write(&mut self, bytes: &[u8]) {
        let n = bytes.len();
        let word = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap());
        let half = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap()) as u64;
        if n >= 8 {
            let mut i = 0;
            while i + 8 < n {
                self.add(word(i));
                i += 8;
            }
            self.add(word(n - 8));
        } else if n >= 4 {
            self.add(half(0) | half(n - 4) << 32);
        } else if n > 0 {
            self.add(bytes[0] as u64 | (bytes[n / 2] as u64) << 8 | (bytes[n - 1] as u64) << 16);
        }
        self.add(n as u64);
    }
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

pub(crate) type Fx = BuildHasherDefault<FxHasher>;

/// A token's words as words._chunk_tokens splits it with _NO_SPACE_TOKEN.findall: each CJK
/// character, each other character of a script written without spaces with the marks after it, and
/// each run of other characters.
fn no_space_words(t: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(c) = rest.chars().next() {
        let f = flags(c);
        let end = if f & ONE_CHAR_WORD != 0 {
            c.len_utf8()
        } else if f & NO_SPACE != 0 {
            c.len_utf8() + rest[c.len_utf8()..].find(|m| flags(m) & MARK == 0).unwrap_or(rest.len() - c.len_utf8())
        } else {
            rest.find(|c| flags(c) & NO_SPACE != 0).unwrap_or(rest.len())
        };
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    out
}

const STOP_WORDS: [&str; 8] = ["the", "be", "to", "of", "and", "that", "have", "with"];

struct Word {
    text: Box<str>,
    chars: u64,
    content: bool, // not only Gopher symbols: counted in the word count and mean length
    alpha: bool,   // holds a letter (str.isalpha)
    stop: bool,
}

/// A document's tokens numbered by first occurrence (as words.Tokens), and their words.
struct Doc {
    ids: Vec<u32>,
    vocab: Vec<u32>, // global word of each local id
}

/// A cached chunk or word: short ones held in the table itself, saving a memory access per lookup.
enum Key {
    Inline(u8, [u8; 22]),
    Heap(Box<str>),
}

impl Key {
    fn new(s: &str) -> Key {
        if s.len() <= 22 {
            let mut b = [0u8; 22];
            b[..s.len()].copy_from_slice(s.as_bytes());
            Key::Inline(s.len() as u8, b)
        } else {
            Key::Heap(s.into())
        }
    }
}

impl Borrow<str> for Key {
    fn borrow(&self) -> &str {
        match self {
            // Only Key::new writes these bytes: a whole str's.
            Key::Inline(n, b) => unsafe { std::str::from_utf8_unchecked(&b[..*n as usize]) },
            Key::Heap(s) => s,
        }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        Borrow::<str>::borrow(self) == Borrow::<str>::borrow(other)
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        Borrow::<str>::borrow(self).hash(h)
    }
}

/// A cached chunk's words: up to three held here (no pointer to follow), more in
/// `Kernels::long_ids` from `ids[0]` on.
#[derive(Clone, Copy)]
struct Ids {
    len: u32,
    ids: [u32; 3],
}

/// `out.extend_from_slice(ids)` for the few ids of a chunk, without a call to memcpy.
#[inline]
fn push_all(out: &mut Vec<u32>, ids: &[u32]) {
    for &id in ids {
        out.push(id);
    }
}

const CACHE_SIZE: usize = 1 << 17; // split chunks
const VOCAB_SIZE: usize = 1 << 18; // words, among them the chunks that are one word
const LONGEST_CACHED: usize = 256; // bytes
const MAX_WORD_BYTES: usize = 64 << 20;

#[pyclass(module = "curate_kernels")]
struct Kernels {
    rules: spacy::Rules,
    chunk_tokens: PyObject,
    cache: HashMap<Key, Ids, Fx>,
    long_ids: Vec<u32>,
    vocab: Vocab,
    local: Vec<u32>, // per global word: local id + 1 in the current document, 0 if not seen
}

/// A slot of `WordIds`: 32 bytes, aligned, so that a probe reads one cache line.
#[repr(align(32))]
struct Slot {
    tag: u32, // the hash's low bits with the lowest set; 0: empty
    id: u32,
    key: Key,
}

/// Word -> id, by open addressing with linear probing: a slot holds its key, so a lookup usually
/// costs one memory miss where a std HashMap costs two (its control bytes, then the entry).
#[derive(Default)]
struct WordIds {
    slots: Vec<Slot>, // a power of two of them, at most 3/4 used
    len: usize,
}

impl WordIds {
    fn hash(w: &str) -> u64 {
        Fx::default().hash_one(w)
    }

    /// The slot holding `w`, or the empty one where it would go.
    fn find(&self, w: &str, hash: u64) -> usize {
        let mask = self.slots.len() - 1;
        let tag = hash as u32 | 1;
        let mut i = (hash >> 32) as usize & mask;
        loop {
            let slot = &self.slots[i];
            if slot.tag == 0 || slot.tag == tag && Borrow::<str>::borrow(&slot.key) == w {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    fn get(&self, w: &str) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let slot = &self.slots[self.find(w, Self::hash(w))];
        (slot.tag != 0).then_some(slot.id)
    }

    /// Adds a word not held.
    fn insert(&mut self, w: &str, id: u32) {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            let n = (self.slots.len() * 2).max(1024);
            let old = std::mem::replace(&mut self.slots, empty_slots(n));
            for slot in old.into_iter().filter(|s| s.tag != 0) {
                let w: &str = slot.key.borrow();
                let i = self.find(w, Self::hash(w));
                self.slots[i] = slot;
            }
        }
        let hash = Self::hash(w);
        let i = self.find(w, hash);
        self.slots[i] = Slot { tag: hash as u32 | 1, id, key: Key::new(w) };
        self.len += 1;
    }

    /// Emptied, its memory kept.
    fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = Slot::EMPTY);
        self.len = 0;
    }
}

impl Slot {
    const EMPTY: Slot = Slot { tag: 0, id: 0, key: Key::Inline(0, [0; 22]) };
}

fn empty_slots(n: usize) -> Vec<Slot> {
    (0..n).map(|_| Slot::EMPTY).collect()
}

/// The words seen (until they are full), numbered.
#[derive(Default)]
struct Vocab {
    words: Vec<Word>,
    word_ids: WordIds,
    word_bytes: usize,
}

impl Vocab {
    fn intern(&mut self, w: &str) -> u32 {
        if let Some(id) = self.word_ids.get(w) {
            return id;
        }
        let id = self.words.len() as u32;
        let (mut content, mut alpha) = (false, false);
        for c in w.chars() {
            let f = flags(c);
            content |= f & GOPHER_SYMBOL == 0;
            alpha |= f & ALPHA != 0;
        }
        self.words.push(Word { text: w.into(), chars: nchars(w) as u64, content, alpha, stop: STOP_WORDS.contains(&w) });
        self.word_ids.insert(w, id);
        self.word_bytes += w.len();
        id
    }

    /// Emptied, its memory kept for the next words.
    fn clear(&mut self) {
        self.words.clear();
        self.word_ids.clear();
        self.word_bytes = 0;
    }

    fn intern_all<'a>(&mut self, words: impl IntoIterator<Item = &'a str>, out: &mut Vec<u32>) {
        for w in words {
            out.push(self.intern(w));
        }
    }
}

impl Kernels {
    /// Whether `chunk` is its own only token without consulting the rules.
    fn plain(&self, chunk: &str) -> bool {
        let rules = &self.rules.chars;
        let first = chunk.chars().next().unwrap();
        let last = chunk.chars().next_back().unwrap();
        if rules[first as usize] & spacy::PREFIX_FIRST != 0 || rules[last as usize] & spacy::SUFFIX_LAST != 0 {
            return false;
        }
        if chunk.chars().any(|c| rules[c as usize] & spacy::INFIX_FIRST != 0 || flags(c) & NO_SPACE != 0) {
            return false;
        }
        !self.rules.specials.contains_key(chunk) && !self.rules.merge_first.contains(chunk)
    }

    /// The chunk's tokens by the Python rules.
    fn python_tokens(&self, py: Python<'_>, chunk: &str) -> PyResult<Vec<String>> {
        self.chunk_tokens.call1(py, (chunk,))?.extract(py)
    }

    /// A chunk's words. Chunks that are their own word (or an ASCII special case) are looked up in
    /// the vocabulary, which caches them; the others in the cache of split chunks.
    fn chunk_ids<'a>(&'a mut self, py: Python<'_>, chunk: &'a str, out: &mut Vec<u32>) -> PyResult<()> {
        if chunk.bytes().all(|b| b.is_ascii_alphabetic()) {
            match self.rules.specials.get(chunk) {
                Some(tokens) => self.vocab.intern_all(tokens.iter().map(String::as_str), out),
                None => out.push(self.vocab.intern(chunk)),
            }
            return Ok(());
        }
        if let Some(&Ids { len, ids }) = self.cache.get(chunk) {
            let ids = match len {
                0..=3 => &ids[..len as usize],
                _ => &self.long_ids[ids[0] as usize..][..len as usize],
            };
            push_all(out, ids);
            return Ok(());
        }
        if self.plain(chunk) {
            out.push(self.vocab.intern(chunk));
            return Ok(());
        }
        let start = out.len();
        let vocab = &mut self.vocab;
        match self.rules.tokens(chunk) {
            Ok(tokens) if chunk.chars().any(|c| flags(c) & NO_SPACE != 0) => {
                let split = |t: &'a str| match t.chars().any(|c| flags(c) & NO_SPACE != 0) {
                    true => no_space_words(t),
                    false => vec![t],
                };
                vocab.intern_all(tokens.into_iter().flat_map(split), out);
            }
            Ok(tokens) => vocab.intern_all(tokens, out),
            Err(spacy::Fallback) => {
                let tokens = self.python_tokens(py, chunk)?;
                self.vocab.intern_all(tokens.iter().map(String::as_str), out);
            }
        }
        if chunk.len() <= LONGEST_CACHED {
            let words = &out[start..];
            let mut ids = Ids { len: words.len() as u32, ids: [0; 3] };
            if words.len() <= 3 {
                ids.ids[..words.len()].copy_from_slice(words);
            } else {
                ids.ids[0] = self.long_ids.len() as u32;
                self.long_ids.extend_from_slice(words);
            }
            self.cache.insert(Key::new(chunk), ids);
        }
        Ok(())
    }

    fn tokenize(&mut self, py: Python<'_>, text: &str) -> PyResult<Doc> {
        // The split chunks hold word ids, so they go with the words; the words stay when only the
        // split chunks are full.
        let words_full = self.vocab.words.len() > VOCAB_SIZE || self.vocab.word_bytes > MAX_WORD_BYTES;
        if words_full || self.cache.len() > CACHE_SIZE {
            self.cache.clear();
            self.long_ids.clear();
        }
        if words_full {
            self.vocab.clear();
        }
        // Each distinct chunk of the document is looked up in the (large) cache once; its repeats
        // are found in this document's own (small) map, already as local ids.
        let mut seen: HashMap<&str, (u32, u32), Fx> = HashMap::with_capacity_and_hasher(text.len() / 16, Fx::default());
        let mut local_ids: Vec<u32> = Vec::new();
        let mut global = Vec::new();
        let mut vocab = Vec::new();
        let mut ids = Vec::with_capacity(text.len() / 4);
        for chunk in split_ws(text) {
            if let Some(&(start, end)) = seen.get(chunk) {
                push_all(&mut ids, &local_ids[start as usize..end as usize]);
                continue;
            }
            global.clear();
            if let Err(e) = self.chunk_ids(py, chunk, &mut global) {
                vocab.iter().for_each(|&g| self.local[g as usize] = 0);
                return Err(e);
            }
            self.local.resize(self.vocab.words.len(), 0);
            let start = local_ids.len();
            for &g in &global {
                let slot = &mut self.local[g as usize];
                if *slot == 0 {
                    vocab.push(g);
                    *slot = vocab.len() as u32;
                }
                local_ids.push(*slot - 1);
            }
            seen.insert(chunk, (start as u32, local_ids.len() as u32));
            push_all(&mut ids, &local_ids[start..]);
        }
        for &g in &vocab {
            self.local[g as usize] = 0;
        }
        Ok(Doc { ids, vocab })
    }

    fn quality(&self, text: &str, doc: &Doc, lines: &[&str]) -> [f64; 8] {
        let n_tokens = doc.ids.len();
        let mut counts = vec![0u64; doc.vocab.len()];
        for &i in &doc.ids {
            counts[i as usize] += 1;
        }
        let (mut content, mut content_chars, mut alpha, mut stop) = (0u64, 0u64, 0u64, 0usize);
        for (count, &g) in counts.iter().zip(&doc.vocab) {
            let w = &self.vocab.words[g as usize];
            if w.content {
                content += count;
                content_chars += count * w.chars;
            }
            if w.alpha {
                alpha += count;
            }
            stop += w.stop as usize;
        }
        let bullets = lines.iter().filter(|l| lstrip(l).starts_with(['•', '-']));
        let ellipsis_lines = lines.iter().filter(|l| {
            let l = rstrip(l);
            l.ends_with("...") || l.ends_with('…')
        });
        let (hashes, ellipses) = hash_and_ellipsis_counts(text);
        [
            content as f64,
            ratio(content_chars as usize, content as usize),
            ratio(hashes, n_tokens),
            ratio(ellipses, n_tokens),
            ratio(bullets.count(), lines.len()),
            ratio(ellipsis_lines.count(), lines.len()),
            ratio(alpha as usize, n_tokens),
            stop as f64,
        ]
    }

    fn repetition(&self, text: &str, doc: &Doc) -> [f64; 13] {
        let n_chars = nchars(text);
        let paragraphs = split_newline_runs(strip(text), 2);
        let (para_dups, para_chars) = duplicates(&paragraphs);
        let lines = split_newline_runs(text, 1);
        let (line_dups, line_chars) = duplicates(&lines);
        let mut offsets = Vec::with_capacity(doc.ids.len() + 1);
        let mut total = 0u64;
        offsets.push(0);
        for &i in &doc.ids {
            total += self.vocab.words[doc.vocab[i as usize] as usize].chars;
            offsets.push(total);
        }
        let ids: Vec<u64> = doc.ids.iter().map(|&i| i as u64 + 1).collect();
        let mut keys = ids.clone(); // each window's n-gram key (gopher._ngram_keys), n = 1 here
        let mut out = [0.0; 13];
        out[0] = ratio(para_dups, paragraphs.len());
        out[1] = ratio(para_chars, n_chars);
        out[2] = ratio(line_dups, lines.len());
        out[3] = ratio(line_chars, n_chars);
        let mut occurrences = vec![0u32; doc.vocab.len()];
        for &i in &doc.ids {
            occurrences[i as usize] += 1;
        }
        let mut counts: Vec<u32> = doc.ids.iter().map(|&i| occurrences[i as usize]).collect();
        for n in 2..=10 {
            if ids.len() < n {
                break;
            }
            keys.truncate(ids.len() + 1 - n);
            for (pos, key) in keys.iter_mut().enumerate() {
                *key = key.wrapping_mul(NGRAM_MULTIPLIER).wrapping_add(ids[pos + n - 1]);
            }
            counts = ngram_counts(&keys, &counts);
            let chars = if n <= 4 {
                top_ngram_chars(&offsets, n, &counts)
            } else {
                duplicated_ngram_chars(&keys, &offsets, n, &counts)
            };
            out[n + 2] = ratio(chars as usize, n_chars);
        }
        out
    }
}

/// (`text.count("#")`, `text.count("...") + text.count("…")`) in one pass.
fn hash_and_ellipsis_counts(text: &str) -> (usize, usize) {
    let b = text.as_bytes();
    let (mut hashes, mut ellipses, mut i) = (0, 0, 0);
    loop {
        i = find_byte(b, i, |x| (x == b'#') | (x == b'.') | (x == 0xe2));
        if i == b.len() {
            return (hashes, ellipses);
        }
        let rest = &b[i..];
        if rest[0] == b'#' {
            hashes += 1;
        } else if rest.starts_with(b"...") || rest.starts_with("…".as_bytes()) {
            ellipses += 1;
            i += 2;
        }
        i += 1;
    }
}

/// gopher._ngram_keys: word ids + 1 mixed by a fixed odd multiplier, wrapping; an n-gram's key is its
/// (n-1)-gram prefix's key times the multiplier plus its last id.
const NGRAM_MULTIPLIER: u64 = 0x9E3779B97F4A7C15;

/// How many n-gram windows share each window's key (`keys`: one per window), given the same for
/// (n-1)-grams (`prev`, one more window): a window whose (n-1)-gram prefix occurs once holds an
/// n-gram that occurs once (but for a 64-bit key collision), so only the others are counted.
fn ngram_counts(keys: &[u64], prev: &[u32]) -> Vec<u32> {
    let positions: Vec<usize> = (0..keys.len()).filter(|&i| prev[i] > 1).collect();
    let mut groups: HashMap<u64, u32, Fx> = HashMap::with_capacity_and_hasher(positions.len(), Fx::default());
    let mut group_of = Vec::with_capacity(positions.len());
    let mut counts: Vec<u32> = Vec::new();
    for &pos in &positions {
        let next = counts.len() as u32;
        let g = *groups.entry(keys[pos]).or_insert(next);
        if g == next {
            counts.push(0);
        }
        counts[g as usize] += 1;
        group_of.push(g);
    }
    let mut out = vec![1u32; keys.len()];
    for (&pos, &g) in positions.iter().zip(&group_of) {
        out[pos] = counts[g as usize];
    }
    out
}

/// gopher.top_ngram_chars: the most frequent n-gram (ties: the first to occur) x occurrences.
fn top_ngram_chars(offsets: &[u64], n: usize, counts: &[u32]) -> u64 {
    let most = *counts.iter().max().unwrap();
    let start = counts.iter().position(|&c| c == most).unwrap();
    (offsets[start + n] - offsets[start] + n as u64 - 1) * most as u64
}

/// gopher.duplicated_ngram_chars: the windows whose n-gram occurs more than once, scanned left to
/// right; a window repeating an earlier scanned one counts, and the scan jumps past it.
fn duplicated_ngram_chars(keys: &[u64], offsets: &[u64], n: usize, counts: &[u32]) -> u64 {
    let mut seen: HashSet<u64, Fx> = HashSet::with_hasher(Fx::default());
    let (mut next, mut chars) = (0usize, 0u64);
    for pos in (0..counts.len()).filter(|&i| counts[i] > 1) {
        if pos < next {
            continue;
        }
        if !seen.insert(keys[pos]) {
            chars += offsets[pos + n] - offsets[pos];
            next = pos + n;
        }
    }
    chars
}

/// c4's `_CITATION.sub("", line)`: `\[\d*]|\[edit]|\[citation needed]` removed.
fn remove_citations(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find('[') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let digits = after.find(|c: char| flags(c) & DECIMAL == 0).unwrap_or(after.len());
        let skip = if after[digits..].starts_with(']') {
            Some(digits + 1)
        } else if after.starts_with("edit]") {
            Some(5)
        } else if after.starts_with("citation needed]") {
            Some(16)
        } else {
            None
        };
        match skip {
            Some(k) => rest = &after[k..],
            None => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `line.lower()` where it matters to an ASCII phrase search, written to `out`: ASCII letters and
/// the few other characters whose lower case holds ASCII; other characters kept (they never match
/// ASCII).
fn lower_for_ascii_search(line: &str, out: &mut String) {
    out.clear();
    if line.is_ascii() || !line.contains(|c| tables::LOWER_WITH_ASCII.iter().any(|&(cp, _)| cp == c as u32)) {
        out.push_str(line);
        out.make_ascii_lowercase();
        return;
    }
    for c in line.chars() {
        match tables::LOWER_WITH_ASCII.iter().find(|&&(cp, _)| cp == c as u32) {
            Some(&(_, l)) => out.push_str(l),
            None => out.push(c.to_ascii_lowercase()),
        }
    }
}

/// The length of `s`'s leading run of characters of `set`.
fn run_of(s: &str, set: &str) -> usize {
    s.find(|c| !set.contains(c)).unwrap_or(s.len())
}

/// c4.count_sentences: `[.!?]+["'”’)\]]*(?=\s|$)|[。！？]+[」』”’）)]*` matches, plus a non-blank tail.
fn count_sentences(line: &str) -> usize {
    let b = line.as_bytes();
    let (mut ends, mut last_end, mut i) = (0, 0, 0);
    while i < b.len() {
        // Only ASCII bytes and lead bytes are tested, so `line[i..]` starts a character.
        if matches!(b[i], b'.' | b'!' | b'?') {
            let j = i + run_of(&line[i..], ".!?");
            let k = j + run_of(&line[j..], "\"'”’)]");
            if k == b.len() || space_at(line, k).0 {
                ends += 1;
                last_end = k;
            }
            i = k;
        } else if matches!(b[i], 0xe3 | 0xef) && line[i..].starts_with(['。', '！', '？']) {
            let j = i + run_of(&line[i..], "。！？");
            i = j + run_of(&line[j..], "」』”’）)");
            ends += 1;
            last_end = i;
        } else {
            i += 1;
        }
    }
    ends + (!strip(&line[last_end..]).is_empty()) as usize
}

const POLICY_PHRASES: [&str; 6] =
    ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"];

fn c4(lines: &[&str]) -> [f64; 7] {
    let (mut no_terminal, mut too_few, mut javascript, mut policy, mut sentences) = (0, 0, 0, 0, 0);
    let (mut lorem, mut curly) = (0.0, 0.0);
    let mut lowered = String::new();
    for raw in lines {
        let stripped = strip(raw);
        let mut n_words = None;
        if stripped.len() > 1000 && nchars(stripped) > 1000 {
            let words: Vec<&str> = split_ws(stripped).collect();
            if words.iter().any(|w| w.len() > 1000 && nchars(w) > 1000) {
                continue;
            }
            n_words = Some(words.len());
        }
        let cited;
        let line = if stripped.contains('[') {
            cited = remove_citations(stripped);
            cited.as_str()
        } else {
            stripped
        };
        if !line.ends_with(['.', '?', '!', '"', '\'']) || line.ends_with("...") {
            no_terminal += 1;
            continue;
        }
        if n_words.unwrap_or_else(|| split_ws(raw).take(3).count()) < 3 {
            too_few += 1;
            continue;
        }
        lower_for_ascii_search(line, &mut lowered);
        if lowered.contains("lorem ipsum") {
            lorem = 1.0;
        }
        if lowered.contains("javascript") {
            javascript += 1;
            continue;
        }
        if line.contains('{') {
            curly = 1.0;
        }
        if POLICY_PHRASES.iter().any(|p| lowered.contains(p)) {
            policy += 1;
            continue;
        }
        sentences += count_sentences(line);
    }
    let n = lines.len().max(1);
    [ratio(no_terminal, n), ratio(too_few, n), ratio(javascript, n), ratio(policy, n), lorem, curly,
     sentences as f64]
}

/// fineweb._LIST_ITEM.match: `^\s*(?:[-*•·‣◦▪►–—+]|\(?(?:\d{1,3}|[a-zA-Z]|[ivxlcdm]{1,5})[.)])\s`.
fn list_item(line: &str) -> bool {
    let cs: Vec<char> = line.trim_start_matches(is_space).chars().take(10).collect();
    let space_at = |i: usize| cs.get(i).is_some_and(|&c| is_space(c));
    let Some(&first) = cs.first() else { return false };
    if "-*•·‣◦▪►–—+".contains(first) && space_at(1) {
        return true;
    }
    let r = (first == '(') as usize;
    let ends_item = |e: usize| cs.get(e).is_some_and(|&c| c == '.' || c == ')') && space_at(e + 1);
    let run = |pred: &dyn Fn(char) -> bool, max: usize| cs[r..].iter().take(max).take_while(|&&c| pred(c)).count();
    let digits = run(&|c| flags(c) & DECIMAL != 0, 3);
    let romans = run(&|c| "ivxlcdm".contains(c), 5);
    let letter = cs.get(r).is_some_and(|c| c.is_ascii_alphabetic()) as usize;
    (1..=digits).chain(1..=letter).chain(1..=romans).any(|k| ends_item(r + k))
}

fn fineweb(text: &str, n_words: usize) -> [f64; 5] {
    let lines: Vec<&str> = text.split('\n').filter(|l| !strip(l).is_empty()).collect();
    let n = lines.len();
    if n == 0 {
        return [0.0; 5];
    }
    let newlines = text.bytes().filter(|&b| b == b'\n').count();
    let punct = lines.iter().filter(|l| flags(l.chars().next_back().unwrap()) & TERMINAL != 0).count();
    let short = lines.iter().filter(|l| l.len() <= 30 || nchars(l) <= 30).count();
    [
        ratio(punct, n),
        ratio(short, n),
        ratio(duplicates(&lines).1, nchars(text) - newlines),
        ratio(newlines, n_words),
        ratio(lines.iter().filter(|l| list_item(l)).count(), n),
    ]
}

const AUTOGEN: [&[u8]; 8] = [b"autogenerated", b"auto-generated", b"auto generated", b"automatically generated",
                              b"generated by", b"do not edit", b"generated from", b"code generator"];

/// codequality._AUTOGEN.search with re.IGNORECASE: characters folded to the ASCII letter `re`
/// matches them to; others become a byte no phrase holds.
fn autogenerated(header: &str) -> bool {
    let folded: Vec<u8> = header
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_ascii_lowercase() as u8
            } else {
                tables::IGNORECASE_ASCII.iter().find(|&&(cp, _)| cp == c as u32).map_or(0xff, |&(_, l)| l)
            }
        })
        .collect();
    AUTOGEN.iter().any(|p| folded.windows(p.len()).any(|w| w == *p))
}

/// (characters with str.isalnum(), with str.isalpha()): ASCII bytes counted in vectorized blocks
/// (no other byte passes their tests), then each other character looked up at its lead byte.
fn alnum_alpha_counts(text: &str) -> (usize, usize) {
    let b = text.as_bytes();
    let (mut alnum, mut alpha) = (0usize, 0usize);
    for block in b.chunks(128) {
        let (mut letters, mut digits) = (0u8, 0u8); // at most 128 each
        for &x in block {
            letters += ((x | 0x20).wrapping_sub(b'a') < 26) as u8;
            digits += (x.wrapping_sub(b'0') < 10) as u8;
        }
        alpha += letters as usize;
        alnum += letters as usize + digits as usize;
    }
    let mut i = 0;
    loop {
        i = find_byte(b, i, |x| x >= 0xc0);
        if i == b.len() {
            break;
        }
        let c = text[i..].chars().next().unwrap();
        let f = flags(c);
        alnum += (f & ALNUM != 0) as usize;
        alpha += (f & ALPHA != 0) as usize;
        i += c.len_utf8();
    }
    (alnum, alpha)
}

fn code(text: &str, prefix: &str) -> (f64, f64, f64, f64, bool, usize, usize, usize) {
    let lines = splitlines(text);
    let ascii = text.is_ascii();
    let (mut max_len, mut sum_len, mut non_blank, mut comment_lines) = (0, 0, 0, 0);
    for line in &lines {
        let len = if ascii { line.len() } else { nchars(line) };
        max_len = max_len.max(len);
        sum_len += len;
        let rest = lstrip(line);
        if !rest.is_empty() {
            non_blank += 1;
            comment_lines += rest.starts_with(prefix) as usize;
        }
    }
    let n_chars = if ascii { text.len() } else { nchars(text) };
    let header = lines[..lines.len().min(5)].join("\n");
    let (alnum, alpha) = alnum_alpha_counts(text);
    (max_len as f64, ratio(sum_len, lines.len()), ratio(alnum, n_chars), ratio(alpha, n_chars), autogenerated(&header),
     lines.len(), comment_lines, non_blank)
}

#[pymethods]
impl Kernels {
    /// `patterns`: spaCy's prefix, suffix, infix and URL patterns (`re` syntax); `suffix_window`:
    /// words._SUFFIX_WINDOW; `specials`: its special cases (chunk -> tokens); `merges`: the special
    /// cases merged after the affix split (their tokens -> its tokens); `prefix_first`,
    /// `suffix_last`, `infix_first`: the characters its rules can start / end / start a match with;
    /// `chunk_tokens`: the Python rules, for a chunk these cannot split.
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(patterns: [String; 4], suffix_window: usize, specials: &Bound<'_, PyDict>, merges: &Bound<'_, PyDict>,
           prefix_first: &str, suffix_last: &str, infix_first: &str, chunk_tokens: PyObject) -> PyResult<Self> {
        let mut chars = vec![0u8; 0x110000];
        for (set, bit) in [(prefix_first, spacy::PREFIX_FIRST), (suffix_last, spacy::SUFFIX_LAST),
                           (infix_first, spacy::INFIX_FIRST)] {
            for c in set.chars() {
                chars[c as usize] |= bit;
            }
        }
        let mut map = HashMap::with_hasher(Fx::default());
        for (k, v) in specials.iter() {
            map.insert(k.extract::<String>()?, v.extract::<Vec<String>>()?);
        }
        let mut merge_map = HashMap::with_hasher(Fx::default());
        for (k, v) in merges.iter() {
            merge_map.insert(k.extract::<Vec<String>>()?, v.extract::<Vec<String>>()?);
        }
        if map.keys().any(|k| k.is_empty()) || merge_map.keys().any(|k| k.is_empty()) {
            return Err(PyValueError::new_err("empty special case"));
        }
        let patterns = patterns.each_ref().map(String::as_str);
        Ok(Kernels {
            rules: spacy::Rules::new(patterns, suffix_window, map, merge_map, chars),
            chunk_tokens,
            cache: HashMap::with_hasher(Fx::default()),
            long_ids: Vec::new(),
            vocab: Vocab::default(),
            local: Vec::new(),
        })
    }

    /// Why the chunks spaCy's rules could split are all left to the Python rules, or None.
    #[getter]
    fn rules_error(&self) -> Option<String> {
        self.rules.error().map(String::from)
    }

    /// words.split_words.
    fn split_words(&mut self, py: Python<'_>, text: &str) -> PyResult<Vec<String>> {
        let doc = self.tokenize(py, text)?;
        Ok(doc.ids.iter().map(|&i| self.vocab.words[doc.vocab[i as usize] as usize].text.to_string()).collect())
    }

    /// len(words.tokenize(text)): the word splitting alone.
    fn word_count(&mut self, py: Python<'_>, text: &str) -> PyResult<usize> {
        Ok(self.tokenize(py, text)?.ids.len())
    }

    /// signals.text_signals, in TEXT_SIGNALS order.
    fn text_signals(&mut self, py: Python<'_>, text: &str) -> PyResult<Vec<f64>> {
        let doc = self.tokenize(py, text)?;
        let lines = splitlines(text);
        let mut out = Vec::with_capacity(33);
        out.extend(self.quality(text, &doc, &lines));
        out.extend(self.repetition(text, &doc));
        out.extend(c4(&lines));
        out.extend(fineweb(text, doc.ids.len()));
        Ok(out)
    }

    /// gopher.gopher_quality_signals' values (the text's words split here too).
    fn gopher_quality(&mut self, py: Python<'_>, text: &str) -> PyResult<Vec<f64>> {
        let doc = self.tokenize(py, text)?;
        Ok(self.quality(text, &doc, &splitlines(text)).to_vec())
    }

    /// gopher.gopher_repetition_signals' values (the text's words split here too).
    fn gopher_repetition(&mut self, py: Python<'_>, text: &str) -> PyResult<Vec<f64>> {
        let doc = self.tokenize(py, text)?;
        Ok(self.repetition(text, &doc).to_vec())
    }
}

/// c4.c4_signals' values of `text.splitlines()`.
#[pyfunction]
fn c4_signals(text: &str) -> Vec<f64> {
    c4(&splitlines(text)).to_vec()
}

/// fineweb.fineweb_signals' values.
#[pyfunction]
fn fineweb_signals(text: &str, n_words: usize) -> Vec<f64> {
    fineweb(text, n_words).to_vec()
}

/// codequality.code_signals' text statistics: (max line length, mean line length, alnum fraction,
/// alpha fraction, autogenerated header, lines, comment lines, non-blank lines).
#[pyfunction]
fn code_stats(text: &str, comment_prefix: &str) -> (f64, f64, f64, f64, bool, usize, usize, usize) {
    code(text, comment_prefix)
}

#[pymodule]
fn curate_kernels(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("API", 4)?; // curate/quality/native.py's API: bumped when a signature changes
    m.add("UNIDATA_VERSION", tables::UNIDATA_VERSION)?;
    m.add("REGEX_VERSION", tables::REGEX_VERSION)?;
    m.add_class::<Kernels>()?;
    m.add_function(wrap_pyfunction!(c4_signals, m)?)?;
    m.add_function(wrap_pyfunction!(fineweb_signals, m)?)?;
    m.add_function(wrap_pyfunction!(code_stats, m)?)?;
    m.add_class::<scan::Literals>()?;
    m.add_class::<fasttext::FastText>()?;
    m.add_function(wrap_pyfunction!(scan::lid_text, m)?)?;
    m.add_function(wrap_pyfunction!(scan::number_starts, m)?)?;
    m.add_function(wrap_pyfunction!(scan::assign_ops, m)?)?;
    Ok(())
}
