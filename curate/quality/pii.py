"""PII and secret redaction with typed placeholders.

Detects e-mail addresses (internationalized ones too), IPv4/IPv6 addresses, phone numbers, payment
card numbers and secrets (cloud and API keys, tokens, JWTs, private-key blocks, passwords in
connection URLs and values assigned to key-like names) and replaces each with `<EMAIL>`, `<IPV4>`,
`<IPV6>`, `<PHONE>`, `<CARD>` or `<SECRET_...>`. Deliberately not redacted (the BigCode PII
pipeline's lessons):
- dotted-quad version strings (`version 1.2.3.4`, `v1.2.3.4`, `==1.2.3.4`, `1.2.3.4.5`),
- non-global addresses (loopback, private, documentation ranges) unless `redact_private_ips`,
- addresses at documentation domains (example.com/.org/.net, RFC 2606 `.test`/`.example`)
  when `keep_example_domains`,
- hashes: values of hash-like keys (`sha256`, `integrity`, `checksum`) and bare hex digests,
- placeholders (`${DB_PASSWORD}`, `changeme`, `<password>`, `****`) in place of a password,
- numbers that fail a card's Luhn check or have no card brand's prefix; dates, ISBNs, times.
An AWS secret access key has no shape of its own: it is found by the name it is assigned to
(`aws_secret_access_key`, `SecretAccessKey`) or right after an AWS access key id. Phone numbers in
national formats without a trunk prefix (`912 34 56 78`) are found only after a label (`Tel.`).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from curate.quality import native

EMAIL = "EMAIL"
IPV4 = "IPV4"
IPV6 = "IPV6"
PHONE = "PHONE"
CARD = "CARD"
SECRET_TOKEN = "SECRET_TOKEN"
SECRET_PASSWORD = "SECRET_PASSWORD"
SECRET_AWS_SECRET_KEY = "SECRET_AWS_SECRET_KEY"

# \w is Unicode: internationalized local parts and domains (RFC 6531/IDNA) as well as ASCII ones.
_EMAIL = re.compile(r"(?<![\w.+-])[^\W_][\w.%+-]{0,63}@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+"
                    r"(?:[^\W\d_]{2,24}|xn--[a-z0-9-]{2,59})(?![\w-])")
_EXAMPLE_DOMAIN = re.compile(r"(?:^|\.)(?:example\.(?:com|org|net)|[^.]+\.(?:test|example|invalid|localhost))$", re.I)
_IPV6_HINT = re.compile(r":[0-9A-Fa-f]{0,4}:")  # two colons close together; starts with a literal
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])")
_IPV6_REACH = 46  # characters of an address (at most 45) before and after the two colons it holds
# A dotted quad right after these is a version, not an address (`user@1.2.3.4` is an address).
_VERSION_CONTEXT = re.compile(r"(?:(?<![a-z])(?:v|version|ver\.?|release|rev\.?)_*|==|>=|<=|~=|!=)\s*[:=]?\s*[\"']?$",
                              re.I)

# IPv4 addresses, card numbers and phone numbers are found in one scan: each digit a pattern may
# start at costs a try of the regex engine, so one scan costs about what each of three did. The
# guard "not right after a word character or a dot" is written after the first character, so the
# pattern starts with a character set and `re` skips ahead to those instead of trying every position.
_IPV4_REST = r"\d{0,2}\.(?:\d{1,3}\.){2}\d{1,3}(?!\w|\.\d)"
# 13-19 digits, one kind of separator; `_card` checks the brand's prefix and the Luhn digit
_CARD_REST = r"(?:[ -]?\d){12,18}(?![\w-]|[.,]\d)"
# digit groups (an optional +country code, an area code in parentheses, a "(0)"); `_phone` keeps
# the shapes numbering plans use
_PHONE_REST = (r"(?:(?<=\+)\d{1,3}|(?<=\()\+?\d{1,5}\)|(?<=\d)\d{1,4})"
               r"(?:(?:[ \t]|[ \t]?[./-][ \t]?)(?:\(0\)[ \t]?)?(?:\(\d{1,5}\)|\d{1,8})){1,6}(?![\w/-]|[.,]\d)")
_NUMBER = re.compile(rf"[+(\d](?<![\w.][+(\d])(?:(?P<ipv4>(?<=\d){_IPV4_REST})|(?P<card>(?<=[2-6]){_CARD_REST})|"
                     rf"(?P<phone>{_PHONE_REST}))")
_PHONE = re.compile(rf"[+(\d]{_PHONE_REST}")  # a phone number where a card number was not
_NANP = re.compile(r"(?:\([2-9]\d\d\)[ \t]?|[2-9]\d\d[ .-])[2-9]\d\d[ .-]\d{4}")  # (415) 867-5309, 415.867.5309
_PAREN_AREA = re.compile(r"\([1-9]\d\)[ \t]?\d{4,5}-\d{4}")  # (11) 91234-5678
# Dates, and US ZIP+4 codes (`MA 02111-1307`, in many licence headers), are not phone numbers.
_NOT_PHONE = re.compile(r"\b\d{1,2}[./-]\d{1,2}[./-](?:19|20)\d\d\b|\b\d{4}[./-]\d{1,2}[./-]\d{1,2}\b|"
                        r"\b\d{1,2}/\d{1,2}/\d\d\b|^\d{5}-\d{4}$")
_PHONE_LABEL = re.compile(r"(?:tel|t[ée]l[ée]fono?|phone|fon|fax|mobile?|cell|call|handy|m[óo]vil|celular|telefone|"
                          r"телефон|тел|電話|电话|전화)\W{0,3}$", re.I)
_CARD_PREFIX = re.compile(r"4|5[1-5]|2(?:2[2-9]|[3-6]|7[01]|720)|3[47]|6(?:011|4[4-9]|5)|35(?:2[89]|[3-8])|"
                          r"3(?:0[0-5]|[689])|62")

# Secrets with a recognisable shape: (placeholder type, pattern, literals). A pattern matches only
# where one of its literals is, so it runs only on documents that hold one (`_shapes_in`: one pass
# of the native kernels over the text for all of them, else a substring test per shape). A pattern
# with a group `value` redacts that group only.
_KEY_TYPE = r"(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?"
_SECRET_SHAPES = (
    # a block cut before its END (an excerpt, a truncated file) is redacted to the end of its base64
    ("SECRET_PRIVATE_KEY", re.compile(rf"-----BEGIN {_KEY_TYPE}-----(?:.*?-----END {_KEY_TYPE}-----|"
                                      r"[\sA-Za-z0-9+/=\\:,.\"'-]*)", re.S), ("-----BEGIN ",)),
    ("SECRET_AWS_KEY", re.compile(r"A(?<![A-Z0-9]A)(?:KIA|SIA|GPA|IDA|ROA|NPA|NVA)[A-Z0-9]{16}(?![A-Z0-9])"),
     ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA")),
    *((SECRET_AWS_SECRET_KEY, re.compile(rf"{word}(?<={s}{word})(?i:_?(?:access_?)?key)[\"']?[ \t]*(?::=|=>|[:=])?[ \t]*"
                                         r"[\"']?(?P<value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"), (word,))
      for s, word in (("[sS]", "ecret"), ("S", "ECRET"))),
    ("SECRET_GCP_KEY", re.compile(r"AIza(?<![\w-]AIza)[0-9A-Za-z_-]{35}(?![\w-])"), ("AIza",)),
    ("SECRET_GOOGLE_OAUTH", re.compile(r"GOCSPX-(?<![\w-]GOCSPX-)[0-9A-Za-z_-]{28}(?![\w-])"), ("GOCSPX-",)),
    ("SECRET_GOOGLE_OAUTH", re.compile(r"ya29\.(?<![\w-]ya29\.)[0-9A-Za-z_-]{20,}"), ("ya29.",)),
    ("SECRET_GITHUB_TOKEN", re.compile(r"gh(?<!\wgh)[pousr]_[A-Za-z0-9]{36}(?!\w)"),
     ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    ("SECRET_GITHUB_TOKEN", re.compile(r"github_pat_(?<!\wgithub_pat_)[A-Za-z0-9_]{60,}"), ("github_pat_",)),
    ("SECRET_SLACK_TOKEN", re.compile(r"xox(?<!\wxox)[abposr]-[A-Za-z0-9-]{10,}(?!\w)"), ("xox",)),
    ("SECRET_SLACK_TOKEN", re.compile(r"xapp-(?<!\wxapp-)\d-[A-Za-z0-9-]{10,}(?!\w)"), ("xapp-",)),
    ("SECRET_SLACK_TOKEN", re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]{20,}"),
     ("https://hooks.slack.com/",)),
    ("SECRET_STRIPE_KEY", re.compile(r"(?<!\w)[sr]k_live_[A-Za-z0-9]{20,}(?!\w)"), ("_live_",)),
    ("SECRET_JWT", re.compile(r"eyJ(?<![\w-]eyJ)[A-Za-z0-9_-]{8,}\.ey[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), ("eyJ",)),
    *((SECRET_TOKEN, re.compile(rf"{word}(?<={b}{word})[ \t]+(?P<value>[A-Za-z0-9._~+/-]{{16,}}=*)"), (word,))
      for b, word in (("[Bb]", "earer"), ("B", "EARER"))),
    # the password of a connection URL (scheme://user:password@host), percent-encoded or not (a
    # hand-written one may hold "#" or "?")
    (SECRET_PASSWORD, re.compile(r"://[^\s:/?#@\"'<>]*:(?P<value>[^\s:/\"'<>]+)@(?=[\w\[])"), ("://",)),
)
_SHAPE_LITERALS = tuple(lit for _, _, literals in _SECRET_SHAPES for lit in literals)
_SHAPE_MASKS = [sum(1 << _SHAPE_LITERALS.index(lit) for lit in literals) for _, _, literals in _SECRET_SHAPES]
# A 40-character AWS secret access key right after its access key id (`AKIA...  wJalr...`).
_AWS_SECRET_AFTER_ID = re.compile(r"(?<![A-Za-z0-9/+=])(?P<value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])")
_AWS_PAIR_REACH = 200
_NAMED_BY = {SECRET_TOKEN: "token", SECRET_PASSWORD: "password"}  # how `_secret_kind` judges shapes' values

# A name that says password; one that says key/secret/token (the value must then look generated).
_PASSWORD_NAME = re.compile(r"passw|pwd|passphrase|(?<![a-z])pass(?![a-z])", re.I)
_SECRET_NAME = re.compile(r"api[_-]?key|apikey|secret|token|passw|pwd|passphrase|(?<![a-z])pass(?![a-z])|"
                          r"access[_-]?key|auth[_-]?key|private[_-]?key|credentials?", re.I)
# `name = "value"` where the name says key/secret/token/password.
_ASSIGNED = re.compile(
    r"""(?<![\w.-])(?P<name>[\w.-]*?(?:api[_-]?key|secret|token|passw(?:or)?d|pwd|passphrase|(?<![a-z])pass(?![a-z])|"""
    r"""access[_-]?key|auth[_-]?key|private[_-]?key|credentials?)[\w-]*)"""
    r"""["']?\s*(?::=|=>|[:=])\s*(?P<q>["'])(?P<value>[^"'\s]{6,200})(?P=q)""",
    re.I,
)
# Where an assignment of a quoted string can be: the operator and the opening quote. Found first
# (the pattern starts with a character set, which `re` skips to), then `_ASSIGNED` is tried only
# shortly before it.
_ASSIGN_OP = re.compile(r"""[:=>]\s*["']""")
_NAME_REACH = 300  # characters before an operator searched for the name
# Every name `_SECRET_NAME` accepts contains one of these (casefolded, as re.I compares).
_NAME_WORDS = ("key", "secret", "token", "pass", "pwd", "credential")
# C: `#define DB_PASSWORD "value"`.
_DEFINE = re.compile(r"#[ \t]*define[ \t]+(?P<name>\w+)[ \t]+\"(?P<value>[^\"\s]{6,200})\"")
# A whole line `name = value` / `name: value` / `export NAME=value` with an unquoted value (.env,
# INI, YAML, shell), tried at the lines holding a name word.
_UNQUOTED = re.compile(r"[ \t]*(?:-[ \t]+)?(?:export[ \t]+)?(?P<name>[\w.-]+)[ \t]*[:=][ \t]*(?P<value>[^\s\"'`]{6,200})"
                       r"[ \t]*(?:[#;].*)?$", re.M)
# Unquoted values that are code, not a secret: calls, indexing, references, paths, and dotted
# names with a lower-case part (`self.password`, `rust_openssl.hpke.X25519PrivateKey`).
_CODE_VALUE = re.compile(r"[$%&*/~.<@{\[(]|.*[()\[\]{};,]$|.*[(\[{]|(?=\w+\.\w)(?:\w+\.)*[a-z_][a-z0-9_]*(?:\.\w+)*$")
# Words in snake, kebab, camel or Pascal case, as names are written; a password is not one.
_WORDS = re.compile(r"(?:[A-Z]?[a-z]{2,}|[A-Z]{2,}(?![a-z])|[_.-])+")
# A path or URL is no secret, quoted or not (`TOKEN_PATH = "/oidc/v1/token"`).
_PATH_VALUE = re.compile(r"[~.]?/|\w+://")


def _name_start(text: str, op: int, lo: int) -> int | None:
    """Where the name assigned by the operator whose last character is at `op` starts: `_ASSIGNED`'s
    name is a whole run of [\\w.-] characters (its lookbehind), then an optional quote and spaces;
    None when that run starts before `lo`."""
    def in_name(i: int) -> bool:
        return text[i].isalnum() or text[i] in "_.-"  # [\w.-]: \w is isalnum() or "_"

    i = op - 1 if text[op - 1 : op + 1] in (":=", "=>") else op
    while i > lo and text[i - 1].isspace():
        i -= 1
    if i > lo and text[i - 1] in "\"'":
        i -= 1
    while i > lo and in_name(i - 1):
        i -= 1
    return None if i == lo and i > 0 and in_name(i - 1) else i


def _assignments(text: str) -> Iterator[re.Match]:
    """`_ASSIGNED.finditer(text)`, tried only at the name before each string-assignment operator
    (a search from `_NAME_REACH` characters before it cost 60 µs a try on code)."""
    pos = 0
    for op_start, op_end in _assign_ops(text):
        if op_start < pos:
            continue
        start = max(pos, op_start - _NAME_REACH)
        before = text[start:op_start].casefold()
        if not any(w in before for w in _NAME_WORDS):
            continue
        name = _name_start(text, op_start, start)
        # A quoted value may hold no whitespace or quote: it ends within 202 characters.
        m = None if name is None else _ASSIGNED.match(text, name, min(len(text), op_end + 201))
        if m:
            yield m
            pos = m.end()


def _assign_ops(text: str) -> list[tuple[int, int]]:
    """The spans of `_ASSIGN_OP`'s matches, found by the native kernels where they can."""
    ops = native.on_utf8((kernels := native.module()) and kernels.assign_ops, text)
    return [m.span() for m in _ASSIGN_OP.finditer(text)] if ops is None else ops


def _ipv6s(text: str) -> Iterator[re.Match]:
    """`_IPV6.finditer(text)`, searched only around each `_IPV6_HINT` (the pattern begins with a
    lookbehind, so `re` tried it at every position of a document)."""
    end = 0
    for hint in _IPV6_HINT.finditer(text):
        if hint.end() <= end:
            continue
        stop = min(len(text), hint.end() + _IPV6_REACH)
        m = _IPV6.search(text, max(end, hint.start() - _IPV6_REACH), stop)
        # an address cut by `stop` would be accepted by the pattern's final lookahead there
        while m and m.end() == stop < len(text) and (text[stop].isalnum() or text[stop] in "_:"):
            m = _IPV6.search(text, m.start() + 1, stop)
        if m:
            yield m
            end = m.end()


def _unquoted_assignments(text: str) -> Iterator[re.Match]:
    """`_UNQUOTED` matches of the lines that hold a name word (`_NAME_WORDS`)."""
    for start in _name_word_lines(text):
        end = text.find("\n", start)
        m = _UNQUOTED.match(text, start, len(text) if end == -1 else end)
        if m and _SECRET_NAME.search(m.group("name")):
            yield m


def _name_word_lines(text: str) -> list[int]:
    """Where the lines holding a name word (in `text.lower()`) start, ascending. The native kernels
    find the words with A-Z as a-z: the other characters whose lower case holds an ASCII letter
    (`İ`, the Kelvin sign) are left to Python."""
    if "\u0130" not in text and "\u212a" not in text:
        starts = native.on_utf8((finder := _finder(_NAME_WORDS, True)) and finder.line_starts, text)
        if starts is not None:
            return starts
    folded = text.lower()
    starts: set[int] = set()
    if len(folded) == len(text):
        for word in _NAME_WORDS:
            i = folded.find(word)
            while i != -1:
                starts.add(text.rfind("\n", 0, i) + 1)
                i = folded.find(word, i + 1)
    else:  # a few characters lower-case to two: positions move, so line by line
        start = 0
        for line in text.split("\n"):
            low = line.lower()
            if any(w in low for w in _NAME_WORDS):
                starts.add(start)
            start += len(line) + 1
    return sorted(starts)


_LOCAL_REACH = 64  # an e-mail address starts at most this many characters before its "@"
_DOMAIN_RUN = re.compile(r"[\w.-]*")


def _emails(text: str) -> Iterator[re.Match]:
    """`_EMAIL.finditer(text)`, searched only around each "@" (the pattern's first character class
    matches at almost every position of code, and each try read up to 64 characters on)."""
    end = 0
    at = text.find("@")
    while at != -1:
        # Up to the domain's end, and one character more for the pattern's closing lookahead.
        stop = _DOMAIN_RUN.match(text, at + 1).end() + 1
        m = _EMAIL.search(text, max(end, at - _LOCAL_REACH), stop)
        if m:
            yield m
            end = m.end()
        at = text.find("@", at + 1)


_HASH_NAME = re.compile(r"sha\d*|md5|hash|digest|checksum|integrity|etag|nonce", re.I)
_HEX_DIGEST = re.compile(r"(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128})", re.I)
_PLACEHOLDER_VALUE = re.compile(
    r"^(?:x+|\*+|\.+|<[^>]*>|\$\{?\w+\}?|%\(?\w+\)?s?|\{\{.*\}\}|\{\w*\}|changeme|password|secret|your[_-].*|test.*|dummy.*|"
    r"example.*|fake.*|true|false|yes|no|none|null|nil|required|optional|redacted|hidden)$", re.I)
MIN_SECRET_ENTROPY = 3.0  # bits per character of a plausible generated secret


def _entropy(s: str) -> float:
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


def _generated(value: str) -> bool:
    """Whether a base64 value has the mix of a random one (a commit id beside a key id has not)."""
    return any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value)


def _secret_kind(name: str, value: str, *, quoted: bool) -> str | None:
    """The placeholder type of `value` assigned to `name`, or None when it is no secret: a
    placeholder, a hash, a path, code; a password is anything but words (`"challengePassword"`,
    a type name, a file name); a key or token must look generated (entropy, letters and digits)."""
    if (_HASH_NAME.search(name) or _HEX_DIGEST.fullmatch(value) or _PLACEHOLDER_VALUE.match(value)
            or _PATH_VALUE.match(value) or not quoted and _CODE_VALUE.match(value)):
        return None
    if _PASSWORD_NAME.search(name):
        return None if len(value) < 6 or _WORDS.fullmatch(value) else SECRET_PASSWORD
    if (len(value) >= 8 and _entropy(value) >= MIN_SECRET_ENTROPY
            and any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return SECRET_TOKEN
    return None


@dataclass(frozen=True)
class PiiOptions:
    emails: bool = True
    ips: bool = True
    phones: bool = True
    cards: bool = True
    secrets: bool = True
    redact_private_ips: bool = False
    keep_example_domains: bool = True


def _ipv4(text: str, m: re.Match, opts: PiiOptions) -> bool:
    """Whether a dotted quad is an address to redact: valid, not a version, global unless
    `redact_private_ips`."""
    try:
        addr = ipaddress.IPv4Address(m.group(0))
    except ValueError:
        return False
    if _VERSION_CONTEXT.search(text[max(0, m.start() - 14) : m.start()]):
        return False
    return addr.is_global or opts.redact_private_ips


def _phone(text: str, m: re.Match) -> bool:
    s = m.group(0)
    digits = sum(c.isdigit() for c in s)
    if s[0] == "+":
        return 8 <= digits <= 15
    if _NOT_PHONE.search(s):
        return False
    if _NANP.fullmatch(s) or _PAREN_AREA.fullmatch(s):
        return True
    groups = [len(g) for g in re.findall(r"\d+", s)]
    if re.match(r"\(?0[1-9]", s) and 9 <= digits <= 12 and (
            groups == [2] * 5 or 2 <= len(groups) <= 4 and min(groups[1:]) >= 3 and max(groups[1:]) >= 4):
        return True  # a national number with its trunk prefix: 030 12345678, 01 23 45 67 89, 03-1234-5678
    return 7 <= digits <= 15 and bool(_PHONE_LABEL.search(text[max(0, m.start() - 16) : m.start()]))


def _luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _card(s: str) -> bool:
    seps = {c for c in s if not c.isdigit()}
    if len(seps) > 1:
        return False
    digits = s.replace(" ", "").replace("-", "")
    if seps:
        groups = [len(g) for g in re.split(r"[ -]", s)]
        if groups[0] != 4 or any(not 3 <= g <= 6 for g in groups[1:-1]):
            return False
    return bool(_CARD_PREFIX.match(digits)) and _luhn(digits)


@cache
def _finder(literals: tuple[str, ...], ascii_case_insensitive: bool = False):
    """The native kernels' one-pass search for `literals` (A-Z as a-z: `ascii_case_insensitive`), or None."""
    kernels = native.module()
    return kernels.Literals(list(literals), ascii_case_insensitive=ascii_case_insensitive) if kernels else None


def _shapes_in(text: str) -> list[tuple]:
    """The secret shapes that can match `text`: those it holds a literal of."""
    found = native.on_utf8((finder := _finder(_SHAPE_LITERALS)) and finder.found, text)
    if found is None:
        return [shape for shape in _SECRET_SHAPES if any(lit in text for lit in shape[2])]
    return [shape for shape, mask in zip(_SECRET_SHAPES, _SHAPE_MASKS) if found & mask]


def _numbers(text: str) -> Iterator[re.Match]:
    """`_NUMBER.finditer(text)`, tried only where the native kernels find that a match can start
    (`number_starts`: a few of the digits, `+` and `(` a code file holds)."""
    starts = native.on_utf8((kernels := native.module()) and kernels.number_starts, text)
    if starts is None:
        yield from _NUMBER.finditer(text)
        return
    end = 0
    for start in starts:
        if start >= end and (m := _NUMBER.match(text, start)):
            yield m
            end = m.end()


def _find(text: str, opts: PiiOptions) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = []
    if opts.secrets:
        for kind, pattern, _ in _shapes_in(text):
            for m in pattern.finditer(text):
                group = "value" if "value" in pattern.groupindex else 0
                # a bearer token must look generated, a URL's password be no placeholder
                if kind in _NAMED_BY and not _secret_kind(_NAMED_BY[kind], m.group(group), quoted=True):
                    continue
                spans.append((m.start(group), m.end(group), kind))
                if kind == "SECRET_AWS_KEY":
                    pair = _AWS_SECRET_AFTER_ID.search(text, m.end(), m.end() + _AWS_PAIR_REACH)
                    if pair and _generated(pair.group()):
                        spans.append((pair.start(), pair.end(), SECRET_AWS_SECRET_KEY))
        for m in _assignments(text):
            kind = _secret_kind(m.group("name"), m.group("value"), quoted=True)
            if kind:
                spans.append((m.start("value"), m.end("value"), kind))
        defines = _DEFINE.finditer(text) if "define" in text else ()
        for m in defines:
            if _SECRET_NAME.search(m.group("name")):
                kind = _secret_kind(m.group("name"), m.group("value"), quoted=True)
                if kind:
                    spans.append((m.start("value"), m.end("value"), kind))
        for m in _unquoted_assignments(text):
            kind = _secret_kind(m.group("name"), m.group("value"), quoted=False)
            if kind:
                spans.append((m.start("value"), m.end("value"), kind))
    for m in _numbers(text) if opts.ips or opts.cards or opts.phones else ():
        start = m.start()
        if m.lastgroup == "ipv4":
            if opts.ips and _ipv4(text, m, opts):
                spans.append((start, m.end(), IPV4))
            continue
        if start and text[start - 1] in "+-/":  # part of an expression, a range, a path
            continue
        if m.lastgroup == "card":
            if opts.cards and _card(m.group(0)):
                spans.append((start, m.end(), CARD))
                continue
            m = _PHONE.match(text, start)
        if m and opts.phones and _phone(text, m):
            spans.append((start, m.end(), PHONE))
    if opts.emails:
        for m in _emails(text):
            domain = m.group(0).rsplit("@", 1)[1]
            if not (opts.keep_example_domains and _EXAMPLE_DOMAIN.search(domain)):
                spans.append((m.start(), m.end(), EMAIL))
    if opts.ips:
        for m in _ipv6s(text):
            try:
                addr = ipaddress.ip_address(m.group(0))
            except ValueError:
                continue
            if addr.is_global or opts.redact_private_ips:
                spans.append((m.start(), m.end(), IPV6))
    return spans


def redact(text: str, opts: PiiOptions) -> tuple[str, dict[str, int]]:
    """`text` with every detected item replaced by `<TYPE>`, and the count per type. Of overlapping
    items the one starting first is redacted; of those starting together, the first found (secrets
    before the others: a URL's password before the address-like `password@host`)."""
    spans = _find(text, opts)
    if not spans:
        return text, {}
    order = sorted(range(len(spans)), key=lambda i: (spans[i][0], i))  # by start, then as found
    out: list[str] = []
    counts: Counter[str] = Counter()
    pos = 0
    for i in order:
        start, end, kind = spans[i]
        if start < pos:  # inside an item already redacted (an e-mail in a key block)
            continue
        out += [text[pos:start], f"<{kind}>"]
        counts[kind] += 1
        pos = end
    out.append(text[pos:])
    return "".join(out), dict(counts)


def redact_fields(fields: dict[str, str | None], opts: PiiOptions) -> tuple[dict[str, str | None], dict[str, int]]:
    """Named values (a document's metadata, its uri) redacted as the lines `name: value` of a
    config file are: as text, and the whole value when the name says password/key/token and the
    value is one. One `redact` of all lines first: most rows hold nothing to redact."""
    lines = {name: f"{name}: {value}" for name, value in fields.items() if value}
    if not lines or not _find("\n".join(lines.values()), opts):
        return fields, {}
    out: dict[str, str | None] = dict(fields)
    counts: Counter[str] = Counter()
    for name, line in lines.items():
        red, found = redact(line, opts)
        if found:
            prefix = f"{name}: "
            out[name], found = (red[len(prefix):], found) if red.startswith(prefix) else redact(fields[name], opts)
            counts.update(found)
    return out, dict(counts)
