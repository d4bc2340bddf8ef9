//! fastText's `predict` for supervised models with hierarchical softmax (lid.176's kind), replaying
//! facebookresearch/fastText's float operations in their order, so the labels and probabilities are
//! the library's to the bit (tests/test_quality/test_native.py compares them on real texts). What
//! it saves is the library's per-word work: the rows of a word (its id and its character n-grams'
//! buckets, hashed and looked up) are found once and kept, so a word seen again costs a lookup.

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use std::collections::HashMap;

use crate::Fx;

const EOS: &str = "</s>";
const LABEL_PREFIX: &[u8] = b"__label__"; // Args::label, which model files do not keep
const KSUB: usize = 256; // centroids per subquantizer (8-bit codes)
const MAGIC: i32 = 793712314;
const LOSS_HS: i32 = 1;
const MODEL_SUP: i32 = 3;
const MAX_CACHED_WORDS: usize = 1 << 18;

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len()).ok_or("the file ends early")?;
        let out = &self.data[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_le_bytes(self.bytes(4)?.try_into().unwrap()))
    }
    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(self.bytes(8)?.try_into().unwrap()))
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.bytes(1)?[0])
    }
    fn f32s(&mut self, n: usize) -> Result<Vec<f32>, String> {
        let b = self.bytes(n.checked_mul(4).ok_or("a matrix too large")?)?;
        Ok(b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect())
    }
    fn len(&mut self, n: i64) -> Result<usize, String> {
        usize::try_from(n).map_err(|_| format!("a negative size {n}"))
    }
}

/// ProductQuantizer: `nsubq` subvectors of `dsub` values (the last of `lastdsub`), 256 centroids each.
struct Quantizer {
    nsubq: usize,
    dsub: usize,
    lastdsub: usize,
    centroids: Vec<f32>,
}

impl Quantizer {
    fn load(r: &mut Reader) -> Result<Quantizer, String> {
        let dim = r.i32()?;
        let (nsubq, dsub, lastdsub) = (r.i32()?, r.i32()?, r.i32()?);
        let sizes = [dim, nsubq, dsub, lastdsub].map(|v| usize::try_from(v).map_err(|_| "a negative size"));
        let [dim, nsubq, dsub, lastdsub] = [sizes[0]?, sizes[1]?, sizes[2]?, sizes[3]?];
        if nsubq == 0 || (nsubq - 1) * dsub + lastdsub != dim {
            return Err("inconsistent product quantizer".into());
        }
        Ok(Quantizer { nsubq, dsub, lastdsub, centroids: r.f32s(dim * KSUB)? })
    }

    fn centroid(&self, m: usize, code: u8) -> &[f32] {
        let i = code as usize;
        if m == self.nsubq - 1 {
            &self.centroids[m * KSUB * self.dsub + i * self.lastdsub..][..self.lastdsub]
        } else {
            &self.centroids[(m * KSUB + i) * self.dsub..][..self.dsub]
        }
    }
}

enum Matrix {
    Dense { rows: usize, cols: usize, data: Vec<f32> },
    Quant { rows: usize, codes: Vec<u8>, pq: Quantizer, norms: Option<(Vec<u8>, Quantizer)> },
}

impl Matrix {
    fn load(r: &mut Reader, quant: bool) -> Result<Matrix, String> {
        if !quant {
            let (m, n) = (r.i64()?, r.i64()?);
            let (rows, cols) = (r.len(m)?, r.len(n)?);
            let data = r.f32s(rows.checked_mul(cols).ok_or("a matrix too large")?)?;
            return Ok(Matrix::Dense { rows, cols, data });
        }
        let qnorm = r.u8()? != 0;
        let (m, _n) = (r.i64()?, r.i64()?);
        let rows = r.len(m)?;
        let codesize = r.i32()?;
        let codesize = r.len(codesize as i64)?;
        let codes = r.bytes(codesize)?.to_vec();
        let pq = Quantizer::load(r)?;
        if codes.len() < rows * pq.nsubq {
            return Err("too few codes".into());
        }
        let norms = if qnorm { Some((r.bytes(rows)?.to_vec(), Quantizer::load(r)?)) } else { None };
        Ok(Matrix::Quant { rows, codes, pq, norms })
    }

    fn rows(&self) -> usize {
        match self {
            Matrix::Dense { rows, .. } | Matrix::Quant { rows, .. } => *rows,
        }
    }

    /// The length of a row (a quantized one's: its subvectors').
    fn cols(&self) -> usize {
        match self {
            Matrix::Dense { cols, .. } => *cols,
            Matrix::Quant { pq, .. } => (pq.nsubq - 1) * pq.dsub + pq.lastdsub,
        }
    }

    fn norm(norms: &Option<(Vec<u8>, Quantizer)>, i: usize) -> f32 {
        norms.as_ref().map_or(1.0, |(codes, npq)| npq.centroid(0, codes[i])[0])
    }

    /// The matrix with each row's values as QuantMatrix::addRowToVector adds them (alpha * centroid
    /// value, the same float products), so adding a row is adding its values.
    fn decoded(self) -> Matrix {
        let dim = self.cols();
        match self {
            Matrix::Quant { rows, codes, pq, norms } => {
                let mut data = vec![0.0f32; rows * dim];
                for (i, row) in data.chunks_exact_mut(dim).enumerate() {
                    let alpha = Self::norm(&norms, i);
                    for (m, &code) in codes[pq.nsubq * i..][..pq.nsubq].iter().enumerate() {
                        for (n, c) in pq.centroid(m, code).iter().enumerate() {
                            row[m * pq.dsub + n] = alpha * c;
                        }
                    }
                }
                Matrix::Dense { rows, cols: dim, data }
            }
            dense => dense,
        }
    }

    /// x += row i (DenseMatrix::addRowToVector; a decoded QuantMatrix's).
    fn add_row(&self, x: &mut [f32], i: usize) {
        if let Matrix::Dense { cols, data, .. } = self {
            let row = &data[i * cols..][..*cols];
            if let (Ok(x), Ok(row)) = (<&mut [f32; 16]>::try_from(&mut *x), <&[f32; 16]>::try_from(row)) {
                (0..16).for_each(|j| x[j] += row[j]); // lid.176's dimension, unrolled
                return;
            }
            for (v, a) in x.iter_mut().zip(row) {
                *v += *a;
            }
        }
    }

    /// row i . x (dotRow / ProductQuantizer::mulcode).
    fn dot_row(&self, x: &[f32], i: usize) -> f32 {
        match self {
            Matrix::Dense { cols, data, .. } => {
                let mut d = 0.0f32;
                for (a, v) in data[i * cols..][..*cols].iter().zip(x) {
                    d += a * v;
                }
                d
            }
            Matrix::Quant { codes, pq, norms, .. } => {
                let mut res = 0.0f32;
                for (m, &code) in codes[pq.nsubq * i..][..pq.nsubq].iter().enumerate() {
                    for (n, c) in pq.centroid(m, code).iter().enumerate() {
                        res += x[m * pq.dsub + n] * c;
                    }
                }
                res * Self::norm(norms, i)
            }
        }
    }
}

#[derive(Clone, Copy)]
struct Node {
    left: i32,
    right: i32,
}

/// fastText's `std_log`: log(x + 1e-5) in double precision, `x` and the result as floats.
fn std_log(x: f32) -> f32 {
    (x as f64 + 1e-5).ln() as f32
}

/// `comparePairs`: the heap is ordered so that its front has the lowest score.
fn before(a: &(f32, i32), b: &(f32, i32)) -> bool {
    a.0 > b.0
}

// libstdc++'s heap algorithms (std::push_heap, pop_heap, sort_heap), so that equal scores end in
// the same order as the library's.
fn sift_up(heap: &mut [(f32, i32)], mut hole: usize, top: usize, value: (f32, i32)) {
    while hole > top {
        let parent = (hole - 1) / 2;
        if !before(&heap[parent], &value) {
            break;
        }
        heap[hole] = heap[parent];
        hole = parent;
    }
    heap[hole] = value;
}

/// std::__adjust_heap from the front: the hole sinks to a leaf, then `value` rises from there.
fn adjust(heap: &mut [(f32, i32)], len: usize, value: (f32, i32)) {
    let (mut hole, mut child) = (0, 0);
    while child < len.saturating_sub(1) / 2 {
        child = 2 * (child + 1);
        if before(&heap[child], &heap[child - 1]) {
            child -= 1;
        }
        heap[hole] = heap[child];
        hole = child;
    }
    if len % 2 == 0 && len >= 2 && child == (len - 2) / 2 {
        child = 2 * (child + 1);
        heap[hole] = heap[child - 1];
        hole = child - 1;
    }
    sift_up(heap, hole, 0, value);
}

/// Moves the front to position `last` and restores the heap on [0, last).
fn pop_to(heap: &mut [(f32, i32)], last: usize) {
    let value = heap[last];
    heap[last] = heap[0];
    adjust(heap, last, value);
}

fn push_heap(heap: &mut Vec<(f32, i32)>, item: (f32, i32)) {
    heap.push(item);
    let hole = heap.len() - 1;
    sift_up(heap, hole, 0, item);
}

fn pop_heap(heap: &mut Vec<(f32, i32)>) {
    if heap.len() > 1 {
        let last = heap.len() - 1;
        pop_to(heap, last);
    }
    heap.pop();
}

fn sort_heap(heap: &mut [(f32, i32)]) {
    let mut last = heap.len();
    while last > 1 {
        last -= 1;
        pop_to(heap, last);
    }
}

/// A supervised fastText model with hierarchical softmax, loaded from its .bin / .ftz file.
#[pyclass(module = "curate_kernels")]
pub struct FastText {
    input: Matrix,
    output: Matrix,
    dim: usize,
    minn: usize,
    maxn: usize,
    bucket: u32,
    nwords: i32,
    word_ids: HashMap<Vec<u8>, (i32, bool), Fx>, // word -> (id, is a label)
    labels: Vec<String>,
    prune: Option<Vec<i32>>, // bucket -> row (-1: dropped), when the model was pruned (None: every bucket)
    tree: Vec<Node>,
    cache: HashMap<Box<[u8]>, (u32, u32), Fx>, // word -> its input rows in `rows`
    rows: Vec<i32>,
}

const FNV_OFFSET: u32 = 2166136261;

/// A step of Dictionary::hash, FNV-1a over the bytes taken as signed chars.
fn fnv(h: u32, byte: u8) -> u32 {
    (h ^ (byte as i8 as i32 as u32)).wrapping_mul(16777619)
}

impl FastText {
    fn load(data: &[u8]) -> Result<FastText, String> {
        let r = &mut Reader { data, at: 0 };
        if r.i32()? != MAGIC {
            return Err("not a fastText model".into());
        }
        let version = r.i32()?;
        if version != 12 {
            return Err(format!("fastText model version {version}, not 12"));
        }
        let mut args = [0i32; 12]; // dim ws epoch minCount neg wordNgrams loss model bucket minn maxn lrUpdateRate
        for a in args.iter_mut() {
            *a = r.i32()?;
        }
        r.bytes(8)?; // t
        let [dim, _, _, _, _, word_ngrams, loss, model, bucket, minn, maxn, _] = args;
        if dim <= 0 || minn < 0 || maxn < 0 {
            return Err("inconsistent arguments".into());
        }
        if model != MODEL_SUP || loss != LOSS_HS || word_ngrams > 1 {
            return Err(format!("a model this does not replay (model {model}, loss {loss}, wordNgrams {word_ngrams})"));
        }
        let (size, nwords, nlabels) = (r.i32()?, r.i32()?, r.i32()?);
        r.i64()?; // ntokens
        let pruneidx_size = r.i64()?;
        let mut word_ids = HashMap::with_hasher(Fx::default());
        let (mut labels, mut counts) = (Vec::new(), Vec::new());
        for id in 0..size {
            let end = r.data[r.at..].iter().position(|&b| b == 0).ok_or("the file ends early")?;
            let word = r.bytes(end)?.to_vec();
            r.bytes(1)?;
            let count = r.i64()?;
            let label = r.u8()? == 1;
            if label {
                if id != nwords + labels.len() as i32 {  // labels follow the words, as fastText sorts them
                    return Err("inconsistent dictionary".into());
                }
                labels.push(String::from_utf8_lossy(&word).into_owned());
                counts.push(count);
            }
            word_ids.insert(word, (id, label));
        }
        if labels.len() != nlabels as usize || nwords + nlabels != size || labels.is_empty() {
            return Err("inconsistent dictionary".into());
        }
        if bucket <= 0 {
            return Err(format!("bucket {bucket}"));
        }
        let prune = if pruneidx_size >= 0 {
            let mut map = vec![-1i32; bucket as usize];
            for _ in 0..pruneidx_size {
                let (from, to) = (r.i32()?, r.i32()?);
                *map.get_mut(from as usize).ok_or("a pruned bucket outside the buckets")? = to;
            }
            Some(map)
        } else {
            None
        };
        let quant = r.u8()? != 0;
        let input = Matrix::load(r, quant)?;
        let qout = r.u8()? != 0;
        let output = Matrix::load(r, quant && qout)?;
        if input.cols() != dim as usize || output.cols() != dim as usize || output.rows() + 1 < labels.len() {
            return Err("inconsistent matrices".into());
        }
        Ok(FastText {
            input: input.decoded(), output, dim: dim as usize, minn: minn as usize, maxn: maxn as usize, bucket: bucket as u32,
            nwords, word_ids, labels, prune, tree: build_tree(&counts),
            cache: HashMap::with_hasher(Fx::default()),
            rows: Vec::new(),
        })
    }

    fn push_bucket(&self, rows: &mut Vec<i32>, h: i32) {
        let id = match &self.prune {
            Some(map) => map[h as usize],
            None => h,
        };
        if id >= 0 {
            rows.push(self.nwords + id);
        }
    }

    /// Dictionary::computeSubwords of `<word>`: the n-grams' hashes grow a byte at a time.
    fn subwords(&self, word: &[u8], rows: &mut Vec<i32>) {
        let mut w = Vec::with_capacity(word.len() + 2);
        w.push(b'<');
        w.extend_from_slice(word);
        w.push(b'>');
        for i in (0..w.len()).filter(|&i| w[i] & 0xC0 != 0x80) {
            let (mut h, mut j, mut n) = (FNV_OFFSET, i, 1);
            while j < w.len() && n <= self.maxn {
                h = fnv(h, w[j]);
                j += 1;
                while j < w.len() && w[j] & 0xC0 == 0x80 {
                    h = fnv(h, w[j]);
                    j += 1;
                }
                if n >= self.minn && !(n == 1 && (i == 0 || j == w.len())) {
                    self.push_bucket(rows, (h % self.bucket) as i32);
                }
                n += 1;
            }
        }
    }

    /// Appends the input rows a token adds (Dictionary::getLine + addSubwords): none for a label.
    fn token_rows(&self, token: &[u8], rows: &mut Vec<i32>) {
        match self.word_ids.get(token) {
            Some(&(_, true)) => {}
            Some(&(id, false)) => {
                rows.push(id);
                if token != EOS.as_bytes() {
                    self.subwords(token, rows);
                }
            }
            None if token.starts_with(LABEL_PREFIX) => {}
            None if token == EOS.as_bytes() => {}
            None => self.subwords(token, rows),
        }
    }

    /// HierarchicalSoftmaxLoss::dfs; `floor`: std_log(threshold), which the library computes at each node.
    fn dfs(&self, k: usize, floor: f32, node: usize, score: f32, heap: &mut Vec<(f32, i32)>, hidden: &[f32]) {
        if score < floor {
            return;
        }
        if heap.len() == k && score < heap[0].0 {
            return;
        }
        let n = self.tree[node];
        if n.left == -1 && n.right == -1 {
            push_heap(heap, (score, node as i32));
            if heap.len() > k {
                pop_heap(heap);
            }
            return;
        }
        let f = self.output.dot_row(hidden, node - self.labels.len());
        let f = (1.0f64 / (1.0f32 + (-f).exp()) as f64) as f32;
        self.dfs(k, floor, n.left as usize, score + std_log((1.0f64 - f as f64) as f32), heap, hidden);
        self.dfs(k, floor, n.right as usize, score + std_log(f), heap, hidden);
    }
}

/// HierarchicalSoftmaxLoss::buildTree (Huffman coding of the labels' counts).
fn build_tree(counts: &[i64]) -> Vec<Node> {
    let osz = counts.len();
    let mut tree = vec![Node { left: -1, right: -1 }; 2 * osz - 1];
    let mut count: Vec<i64> = vec![1_000_000_000_000_000; 2 * osz - 1];
    count[..osz].copy_from_slice(counts);
    let (mut leaf, mut node) = (osz as i64 - 1, osz);
    for i in osz..2 * osz - 1 {
        let mut mini = [0usize; 2];
        for m in mini.iter_mut() {
            if leaf >= 0 && count[leaf as usize] < count[node] {
                *m = leaf as usize;
                leaf -= 1;
            } else {
                *m = node;
                node += 1;
            }
        }
        tree[i] = Node { left: mini[0] as i32, right: mini[1] as i32 };
        count[i] = count[mini[0]] + count[mini[1]];
    }
    tree
}

#[pymethods]
impl FastText {
    #[new]
    fn new(path: &str) -> PyResult<Self> {
        let data = std::fs::read(path).map_err(|e| PyOSError::new_err(format!("{path}: {e}")))?;
        FastText::load(&data).map_err(|e| PyValueError::new_err(format!("{path}: {e}")))
    }

    /// `fasttext.FastText.predict(text, k, threshold)` of one line: (labels, probabilities).
    fn predict(&mut self, text: &str, k: usize, threshold: f32) -> PyResult<(Vec<String>, Vec<f64>)> {
        if text.contains('\n') {
            return Err(PyValueError::new_err("predict processes one line at a time (remove '\\n')"));
        }
        if k == 0 {
            return Err(PyValueError::new_err("k needs to be 1 or higher"));
        }
        if self.cache.len() > MAX_CACHED_WORDS {
            self.cache.clear();
            self.rows.clear();
        }
        let mut hidden = vec![0.0f32; self.dim];
        let mut n_rows = 0usize;
        let spaces = |b: &u8| matches!(b, b' ' | b'\r' | b'\t' | 0x0b | 0x0c | 0);
        // The text as Python's predict passes it: with a newline, read as the end-of-sentence word.
        let tokens = text.as_bytes().split(spaces).filter(|t| !t.is_empty()).chain([EOS.as_bytes()]);
        for token in tokens {
            let (start, len) = match self.cache.get(token) {
                Some(&at) => at,
                None => {
                    let mut rows = std::mem::take(&mut self.rows);
                    let start = rows.len();
                    self.token_rows(token, &mut rows);
                    let outside = rows[start..].iter().any(|&row| row < 0 || row as usize >= self.input.rows());
                    let at = (start as u32, (rows.len() - start) as u32);
                    self.rows = rows;
                    if outside {
                        self.rows.truncate(start);
                        return Err(PyValueError::new_err("the model's dictionary points outside its input matrix"));
                    }
                    self.cache.insert(token.into(), at);
                    at
                }
            };
            for &row in &self.rows[start as usize..][..len as usize] {
                self.input.add_row(&mut hidden, row as usize);
            }
            n_rows += len as usize;
            if token == EOS.as_bytes() {
                break;
            }
        }
        if n_rows == 0 {
            return Ok((vec![], vec![]));
        }
        let scale = (1.0f64 / n_rows as f64) as f32;
        hidden.iter_mut().for_each(|v| *v *= scale);
        let mut heap = Vec::with_capacity(k + 1);
        self.dfs(k, std_log(threshold), self.tree.len() - 1, 0.0, &mut heap, &hidden);
        sort_heap(&mut heap);
        Ok(heap.iter().map(|&(s, node)| (self.labels[node as usize].clone(), s.exp() as f64)).unzip())
    }
}
