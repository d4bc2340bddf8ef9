"""PII and secret redaction with typed placeholders.

Detects e-mail addresses, IPv4/IPv6 addresses and secrets (cloud keys, private-key blocks, tokens
assigned to key-like names) and replaces each with `<EMAIL>`, `<IPV4>`, `<IPV6>` or
`<SECRET_...>`. Deliberately not redacted (the BigCode PII pipeline's lessons):
- dotted-quad version strings (`version 1.2.3.4`, `v1.2.3.4`, `==1.2.3.4`, `1.2.3.4.5`),
- non-global addresses (loopback, private, documentation ranges) unless `redact_private_ips`,
- addresses at documentation domains (example.com/.org/.net, RFC 2606 `.test`/`.example`)
  when `keep_example_domains`,
- hashes: values of hash-like keys (`sha256`, `integrity`, `checksum`) and bare hex digests.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

EMAIL = "EMAIL"
IPV4 = "IPV4"
IPV6 = "IPV6"

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])")
_EXAMPLE_DOMAIN = re.compile(r"(?:^|\.)(?:example\.(?:com|org|net)|[^.]+\.(?:test|example|invalid|localhost))$", re.I)
# The guard "not right after a word character or a dot" is written after the first digit, so the
# pattern starts with \d and `re` skips ahead to digits instead of trying every position.
_IPV4 = re.compile(r"\d(?<![\w.]\d)\d{0,2}\.(?:\d{1,3}\.){2}\d{1,3}(?!\w|\.\d)")
_IPV6_HINT = re.compile(r":[0-9A-Fa-f]{0,4}:")  # two colons close together; starts with a literal
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])")
# A dotted quad right after these is a version, not an address.
_VERSION_CONTEXT = re.compile(r"(?:\b(?:v|version|ver\.?|release|rev\.?)|==|>=|<=|~=|!=|@)\s*[:=]?\s*$", re.I)

# Secrets with a recognisable shape: (placeholder type, literals one of which it contains, pattern).
# A document without any of the literals (a C-speed substring test) is not scanned.
_SECRET_SHAPES = (
    ("SECRET_PRIVATE_KEY", ("PRIVATE KEY",), re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----.*?-----END (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----", re.S)),
    ("SECRET_AWS_KEY", ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA"), re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA)[A-Z0-9]{16}(?![A-Z0-9])")),
    ("SECRET_GCP_KEY", ("AIza",), re.compile(r"(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])")),
    ("SECRET_GITHUB_TOKEN", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), re.compile(r"(?<!\w)(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{60,})(?!\w)")),
    ("SECRET_SLACK_TOKEN", ("xox",), re.compile(r"(?<!\w)xox[abposr]-[A-Za-z0-9-]{10,}(?!\w)")),
    ("SECRET_STRIPE_KEY", ("_live_",), re.compile(r"(?<!\w)(?:sk|rk)_live_[A-Za-z0-9]{20,}(?!\w)")),
)
# `name = "value"` where the name says key/secret/token/password.
_ASSIGNED = re.compile(
    r"""(?<![\w.-])(?P<name>[\w.-]*?(?:api[_-]?key|secret|token|passw(?:or)?d|pwd|access[_-]?key|auth[_-]?key|private[_-]?key|credentials?)[\w-]*)"""
    r"""["']?\s*(?::=|=>|[:=])\s*(?P<q>["'])(?P<value>[^"'\s]{8,200})(?P=q)""",
    re.I,
)
# Where an assignment of a quoted string can be: the operator and the opening quote. Found first
# (the pattern starts with a character set, which `re` skips to), then `_ASSIGNED` is tried only
# shortly before it.
_ASSIGN_OP = re.compile(r"""[:=>]\s*["']""")
_NAME_REACH = 300  # characters before an operator searched for the name
# Every name `_ASSIGNED` accepts contains one of these (casefolded, as re.I compares).
_NAME_WORDS = ("key", "secret", "token", "passw", "pwd", "credential")


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
    for op in _ASSIGN_OP.finditer(text):
        if op.start() < pos:
            continue
        start = max(pos, op.start() - _NAME_REACH)
        before = text[start : op.start()].casefold()
        if not any(w in before for w in _NAME_WORDS):
            continue
        name = _name_start(text, op.start(), start)
        # A quoted value may hold no whitespace or quote: it ends within 202 characters.
        m = None if name is None else _ASSIGNED.match(text, name, min(len(text), op.end() + 201))
        if m:
            yield m
            pos = m.end()


_LOCAL_REACH = 64  # an e-mail address starts at most this many characters before its "@"
_DOMAIN_RUN = re.compile(r"[A-Za-z0-9.-]*")


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
_PLACEHOLDER_VALUE = re.compile(r"^(?:x+|\*+|\.+|<[^>]*>|\$\{?\w+\}?|%\(?\w+\)?s?|\{\{.*\}\}|changeme|password|secret|your[_-].*|test.*|dummy.*|example.*|fake.*)$", re.I)
MIN_SECRET_ENTROPY = 3.0  # bits per character of a plausible generated secret


def _entropy(s: str) -> float:
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


@dataclass(frozen=True)
class PiiOptions:
    emails: bool = True
    ips: bool = True
    secrets: bool = True
    redact_private_ips: bool = False
    keep_example_domains: bool = True


def _is_version(text: str, start: int) -> bool:
    return bool(_VERSION_CONTEXT.search(text[max(0, start - 12) : start]))


def _find(text: str, opts: PiiOptions) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = []
    if opts.secrets:
        for kind, literals, pattern in _SECRET_SHAPES:
            if any(lit in text for lit in literals):
                spans += [(m.start(), m.end(), kind) for m in pattern.finditer(text)]
        for m in _assignments(text):
            value = m.group("value")
            if (_HASH_NAME.search(m.group("name")) or _HEX_DIGEST.fullmatch(value)
                    or _PLACEHOLDER_VALUE.match(value) or _entropy(value) < MIN_SECRET_ENTROPY
                    or not (re.search(r"\d", value) and re.search(r"[A-Za-z]", value))):
                continue
            spans.append((m.start("value"), m.end("value"), "SECRET_TOKEN"))
    if opts.emails:
        for m in _emails(text):
            domain = m.group(0).rsplit("@", 1)[1]
            if not (opts.keep_example_domains and _EXAMPLE_DOMAIN.search(domain)):
                spans.append((m.start(), m.end(), EMAIL))
    if opts.ips:
        for pattern, kind in ((_IPV4, IPV4), (_IPV6, IPV6)):
            if kind == IPV6 and not _IPV6_HINT.search(text):
                continue
            for m in pattern.finditer(text):
                try:
                    addr = ipaddress.ip_address(m.group(0))
                except ValueError:
                    continue
                if kind == IPV4 and _is_version(text, m.start()):
                    continue
                if not (addr.is_global or opts.redact_private_ips):
                    continue
                spans.append((m.start(), m.end(), kind))
    return spans


def redact(text: str, opts: PiiOptions) -> tuple[str, dict[str, int]]:
    """`text` with every detected item replaced by `<TYPE>`, and the count per type."""
    spans = sorted(_find(text, opts), key=lambda s: (s[0], -s[1]))
    if not spans:
        return text, {}
    out: list[str] = []
    counts: Counter[str] = Counter()
    pos = 0
    for start, end, kind in spans:
        if start < pos:  # inside an item already redacted (an e-mail in a key block)
            continue
        out += [text[pos:start], f"<{kind}>"]
        counts[kind] += 1
        pos = end
    out.append(text[pos:])
    return "".join(out), dict(counts)
