#!/usr/bin/env python3
"""Build the planted PII set: real documents of this machine with personal data and secrets
planted in them, and benign look-alikes beside them.

    python scripts/build_pii_set.py --out /tmp/pii_set.jsonl [--per-class 30] [--seed 0]

The documents are real: prose from manual pages in ten languages (rendered with `man -l`, as
scripts/build_langid_set.py does) and Python's documentation sources (python3-doc), source code (the
standard library's Python, C headers of /usr/include, shell scripts), configuration files (YAML of
site-packages, INI/.cfg/.conf files, /etc/default's shell-variable files, which have the syntax of
`.env` files). Only the planted values are generated, with a seeded RNG: random, but shaped like
the real thing (Luhn-valid card numbers of the major brands, global IP addresses, AWS key ids of
the right alphabet, base64url JWTs, PEM blocks of 64-character lines) and inserted where the file
type would hold them, in its syntax: a sentence end of a paragraph, a top-level line of Python,
`#define` in C, `export` in shell, a sibling key of YAML and INI sections, `NAME=value` lines.

Every document records its plants (class, variant, value) and look-alikes (class, value), so a
test can check each: a plant is redacted when none of `plant_leaks` is left in the redacted text,
a look-alike is kept when the redacted text holds it as often as the planted one (see `score`).
Look-alikes that must stay: version strings (dotted quads included), commit ids, UUIDs, lock-file
hashes, published test vectors, loopback, private and documentation-range addresses (RFC 5737,
RFC 3849, RFC 1918, RFC 4193), addresses at documentation domains (RFC 2606), ISBNs, dates and
times, MAC addresses, numbers shaped like cards that fail Luhn, placeholder passwords
(`${DB_PASSWORD}`, `changeme`, `<password>`).

Output: JSON lines {"doc", "path", "type", "lang", "base", "text", "plants", "lookalikes"}.
"""

from __future__ import annotations

import argparse
import base64
import ipaddress
import json
import random
import re
import string
import subprocess
import sys
import sysconfig
import urllib.parse
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_langid_set import MAN, render  # noqa: E402  (the man page renderer of the langid set)

PLANT_CLASSES = (
    "email", "ipv4", "ipv6", "phone", "card", "aws_access_key_id", "aws_secret_access_key", "github_token",
    "slack_token", "stripe_key", "google_key", "private_key", "jwt", "password", "url_password",
)
LOOKALIKE_CLASSES = (
    "version", "commit_id", "uuid", "lock_hash", "test_vector", "loopback_ip", "private_ip", "doc_ip",
    "example_email", "isbn", "date_time", "mac_address", "non_luhn_number", "placeholder_password",
)
MAX_DOC_CHARS = 6000
PROSE_LOCALES = {"": "en", "de": "de", "fr": "fr", "es": "es", "it": "it", "pl": "pl", "pt_BR": "pt", "ru": "ru",
                 "ja": "ja", "zh_CN": "zh"}
PYTHON_DOC = Path("/usr/share/doc/python3-doc/html/_sources")
# Words that introduce a value in a sentence, per language (a label, then the value).
LABELS = {
    "en": {"contact": "Contact", "phone": "Phone", "server": "server", "key": "key", "card": "card number"},
    "de": {"contact": "Kontakt", "phone": "Telefon", "server": "Server", "key": "Schlüssel", "card": "Kartennummer"},
    "fr": {"contact": "Contact", "phone": "Tél.", "server": "serveur", "key": "clé", "card": "numéro de carte"},
    "es": {"contact": "Contacto", "phone": "Tel.", "server": "servidor", "key": "clave", "card": "número de tarjeta"},
    "it": {"contact": "Contatto", "phone": "Tel.", "server": "server", "key": "chiave", "card": "numero di carta"},
    "pl": {"contact": "Kontakt", "phone": "Tel.", "server": "serwer", "key": "klucz", "card": "numer karty"},
    "pt": {"contact": "Contato", "phone": "Tel.", "server": "servidor", "key": "chave", "card": "número do cartão"},
    "ru": {"contact": "Контакт", "phone": "Тел.", "server": "сервер", "key": "ключ", "card": "номер карты"},
    "ja": {"contact": "連絡先", "phone": "電話", "server": "サーバー", "key": "キー", "card": "カード番号"},
    "zh": {"contact": "联系", "phone": "电话", "server": "服务器", "key": "密钥", "card": "卡号"},
}
FIRST = ["anna", "jan", "marie", "pierre", "lucia", "giulia", "piotr", "olga", "kenji", "wei", "sofia", "lars",
         "amit", "fatima", "joao", "emma", "noah", "mia", "luca", "hana"]
LAST = ["kowalski", "muller", "dubois", "garcia", "rossi", "nowak", "ivanova", "tanaka", "chen", "silva", "jensen",
        "sharma", "haddad", "smith", "novak", "bianchi", "schmidt", "moreau", "sato", "kim"]
UNICODE_LOCAL = ["josé.garcía", "müller", "françois", "дмитрий", "山田太郎", "łukasz.wójcik", "søren", "zoë.brontë",
                 "ἀλέξανδρος", "정민"]
IDN_DOMAINS = ["bücher-haus.de", "münchen-reisen.de", "компания.рф", "会社.jp", "mañana-viajes.es", "société.fr",
               "例子.公司", "xn--mnchen-3ya.de", "straße-bau.at", "ευρώπη.eu"]
DOMAINS = ["gmail.com", "posteo.de", "free.fr", "yandex.ru", "web.de", "outlook.com", "wp.pl", "libero.it",
           "uol.com.br", "qq.com", "kowalski-bau.pl", "acme-logistics.co.uk", "mailbox.org", "proton.me"]
HOSTS = ["db.internal.acme-corp.net", "pg-prod-03.eu-west.rds.amazonaws.com", "mq.fin-data.io", "cache.shop-backend.de",
         "mongo.cluster7.mongodb.net", "ftp.archive-mirror.org", "api.payroll-svc.com"]
TEST_VECTORS = [  # published ones: FIPS-197 AES-128 key, SHA-256("abc"), RFC 4231 HMAC key, MD5(""), CRC-32C check
    "2b7e151628aed2a6abf7158809cf4f3c", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "d41d8cd98f00b204e9800998ecf8427e", "000102030405060708090a0b0c0d0e0f",
]
B64 = string.ascii_letters + string.digits + "+/"
B64URL = string.ascii_letters + string.digits + "-_"
ALNUM = string.ascii_letters + string.digits


# ---- values -------------------------------------------------------------------------------------
def _pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def luhn_digit(digits: str) -> str:
    """The check digit that makes `digits` + it Luhn-valid."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str(-total % 10)


def luhn_valid(number: str) -> bool:
    return luhn_digit(number[:-1]) == number[-1]


CARD_BRANDS = {  # brand: (prefixes, length, grouping)
    "visa": (["4"], 16, (4, 4, 4, 4)), "mastercard": (["51", "53", "55", "2221", "2720"], 16, (4, 4, 4, 4)),
    "amex": (["34", "37"], 15, (4, 6, 5)), "discover": (["6011", "65", "644"], 16, (4, 4, 4, 4)),
    "jcb": (["3528", "3589"], 16, (4, 4, 4, 4)), "diners": (["36", "300", "38"], 14, (4, 6, 4)),
    "unionpay": (["62"], 16, (4, 4, 4, 4)), "visa19": (["4"], 19, (4, 4, 4, 4, 3)),
}


def card(rng: random.Random) -> tuple[str, str]:
    brand = rng.choice(sorted(CARD_BRANDS))
    prefixes, length, groups = CARD_BRANDS[brand]
    body = rng.choice(prefixes)
    body += _pick(rng, string.digits, length - 1 - len(body))
    number = body + luhn_digit(body)
    sep = rng.choice(["", " ", "-"])
    if sep:
        parts, i = [], 0
        for g in groups:
            parts.append(number[i:i + g])
            i += g
        number = sep.join(parts)
    return f"{brand}{'_' + ('space' if sep == ' ' else 'dash') if sep else ''}", number


def non_luhn_card(rng: random.Random) -> str:
    body = "4" + _pick(rng, string.digits, 14)
    number = body + str((int(luhn_digit(body)) + rng.randint(1, 9)) % 10)
    return " ".join(number[i:i + 4] for i in range(0, 16, 4)) if rng.random() < 0.6 else number


def global_ipv4(rng: random.Random) -> str:
    while True:
        addr = ipaddress.IPv4Address(rng.getrandbits(32))
        if addr.is_global and not addr.is_multicast:
            return str(addr)


def global_ipv6(rng: random.Random) -> str:
    while True:
        prefix = rng.choice([0x2a00, 0x2a01, 0x2a02, 0x2600, 0x2604, 0x2400, 0x2800, 0x2c0f, 0x2001])
        addr = ipaddress.IPv6Address((prefix << 112) | rng.getrandbits(112))
        if addr.is_global:
            return str(addr)


def phone(rng: random.Random) -> tuple[str, str]:
    d = lambda n: _pick(rng, string.digits, n)  # noqa: E731
    nz = lambda: str(rng.randint(2, 9))  # noqa: E731  (a first digit that numbering plans allow)
    area, ex, line = nz() + d(2), nz() + d(2), d(4)
    formats = {
        "us_paren": f"({area}) {ex}-{line}", "us_dash": f"{area}-{ex}-{line}", "us_intl": f"+1 {area} {ex} {line}",
        "us_dot": f"{area}.{ex}.{line}", "de_intl": f"+49 {nz()}{d(1)} {d(8)}", "de_national": f"0{nz()}{d(1)} {d(7)}",
        "de_mobile": f"01{rng.choice('567')}{d(1)} {d(7)}", "de_paren": f"+49 (0){nz()}{d(2)} {d(4)} {d(3)}",
        "fr_intl": f"+33 {rng.randint(1, 7)} {d(2)} {d(2)} {d(2)} {d(2)}",
        "fr_national": f"0{rng.randint(1, 7)} {d(2)} {d(2)} {d(2)} {d(2)}",
        "fr_dots": f"0{rng.randint(1, 7)}.{d(2)}.{d(2)}.{d(2)}.{d(2)}",
        "uk_intl": f"+44 20 {nz()}{d(3)} {d(4)}", "uk_national": f"020 {nz()}{d(3)} {d(4)}",
        "jp_national": f"0{nz()}-{d(4)}-{d(4)}", "jp_mobile": f"090-{d(4)}-{d(4)}", "jp_intl": f"+81 {nz()}-{d(4)}-{d(4)}",
        "es_intl": f"+34 {rng.choice('69')}{d(2)} {d(3)} {d(3)}", "in_intl": f"+91 {rng.choice('6789')}{d(4)} {d(5)}",
        "br_intl": f"+55 {nz()}{d(1)} 9{d(4)}-{d(4)}", "br_national": f"({nz()}{d(1)}) 9{d(4)}-{d(4)}",
        "ru_intl": f"+7 {nz()}{d(2)} {d(3)}-{d(2)}-{d(2)}", "it_intl": f"+39 0{nz()} {d(4)} {d(4)}",
        "pl_intl": f"+48 {nz()}{d(2)} {d(3)} {d(3)}",
    }
    variant = rng.choice(sorted(formats))
    return variant, formats[variant]


def email(rng: random.Random) -> tuple[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    variant = rng.choice(["ascii", "ascii", "ascii_plus", "idn_domain", "unicode_local", "unicode_both"])
    local = {"ascii": rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}{last}{rng.randint(1, 99)}",
                                  f"{first}_{last}"]),
             "ascii_plus": f"{first}.{last}+{rng.choice(['news', 'git', 'lists'])}"}.get(variant)
    if local is None:
        local = rng.choice(UNICODE_LOCAL) if variant != "idn_domain" else f"{first}.{last}"
    domain = rng.choice(IDN_DOMAINS) if variant in ("idn_domain", "unicode_both") else rng.choice(DOMAINS)
    return variant, f"{local}@{domain}"


def private_key_block(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(["RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY",
                       "ENCRYPTED PRIVATE KEY", "PGP PRIVATE KEY BLOCK"])
    body = base64.b64encode(rng.randbytes(rng.choice([121, 228, 400, 1190]))).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    if kind == "PGP PRIVATE KEY BLOCK":
        lines = ["", *lines, "=" + _pick(rng, B64, 4)]
    return kind.lower().replace(" ", "_"), "\n".join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----"])


def jwt(rng: random.Random) -> str:
    def part(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")

    header = {"alg": rng.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}
    payload = {"sub": str(rng.randint(10**6, 10**9)), "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
               "iat": rng.randint(1_500_000_000, 1_800_000_000)}
    sig = _pick(rng, B64URL, {"HS256": 43, "RS256": 342, "ES256": 86}[header["alg"]])
    return f"{part(header)}.{part(payload)}.{sig}"


def password(rng: random.Random) -> str:
    style = rng.choice(["random", "random", "human", "passphrase"])
    if style == "random":  # symbols that shell, YAML and INI take unquoted, never first
        return rng.choice(string.ascii_letters) + _pick(rng, ALNUM + "#%+-._!", rng.randint(11, 23))
    if style == "human":
        return f"{rng.choice(FIRST).capitalize()}{rng.choice(LAST)}{rng.randint(1, 2025)}{rng.choice('!?#$%.')}"
    return "-".join([rng.choice(LAST), rng.choice(FIRST), rng.choice(LAST), str(rng.randint(2, 99))])


def secret(rng: random.Random, cls: str) -> tuple[str, str]:
    """(variant, value) of one token class."""
    if cls == "aws_access_key_id":
        prefix = rng.choice(["AKIA", "AKIA", "ASIA"])
        return prefix, prefix + _pick(rng, string.ascii_uppercase + "234567", 16)
    if cls == "aws_secret_access_key":
        return "aws_secret", _pick(rng, B64, 40)
    if cls == "github_token":
        prefix = rng.choice(["ghp_", "gho_", "ghs_", "ghu_", "github_pat_"])
        if prefix == "github_pat_":
            return prefix, f"github_pat_{_pick(rng, ALNUM, 22)}_{_pick(rng, ALNUM, 59)}"
        return prefix, prefix + _pick(rng, ALNUM, 36)
    if cls == "slack_token":
        variant = rng.choice(["xoxb", "xoxp", "webhook"])
        if variant == "webhook":
            return variant, (f"https://hooks.slack.com/services/T{_pick(rng, string.ascii_uppercase + string.digits, 10)}"
                             f"/B{_pick(rng, string.ascii_uppercase + string.digits, 10)}/{_pick(rng, ALNUM, 24)}")
        tail = _pick(rng, ALNUM, 24) if variant == "xoxb" else f"{rng.randint(10**11, 10**12)}-{_pick(rng, '0123456789abcdef', 32)}"
        return variant, f"{variant}-{rng.randint(10**10, 10**12)}-{rng.randint(10**10, 10**12)}-{tail}"
    if cls == "stripe_key":
        prefix = rng.choice(["sk_live_", "sk_live_", "rk_live_"])
        return prefix, prefix + _pick(rng, ALNUM, rng.choice([24, 99]))
    if cls == "google_key":
        variant = rng.choice(["AIza", "AIza", "GOCSPX", "ya29"])
        value = {"AIza": "AIza" + _pick(rng, B64URL, 35), "GOCSPX": "GOCSPX-" + _pick(rng, B64URL, 28),
                 "ya29": "ya29.a0" + _pick(rng, B64URL, 150)}[variant]
        return variant, value
    raise ValueError(cls)


# ---- documents ----------------------------------------------------------------------------------
@dataclass
class Doc:
    path: str
    type: str  # prose | python | c | shell | yaml | ini | env
    lang: str
    base: str
    inserts: list[tuple[int, str]] = field(default_factory=list)  # (offset in base, text inserted there)
    plants: list[dict] = field(default_factory=list)
    lookalikes: list[dict] = field(default_factory=list)

    def text(self) -> str:
        out, pos = [], 0
        for offset, snippet in sorted(self.inserts, key=lambda i: i[0]):
            out += [self.base[pos:offset], snippet]
            pos = offset
        return "".join(out) + self.base[pos:]


def _cut(text: str) -> str:
    if len(text) <= MAX_DOC_CHARS:
        return text
    return text[: text.rfind("\n", 0, MAX_DOC_CHARS) + 1] or text[:MAX_DOC_CHARS]


def _files(roots: list[Path], patterns: list[str]) -> list[Path]:
    out: set[Path] = set()
    for root in roots:
        for pattern in patterns:
            out.update(p for p in root.glob(pattern) if p.is_file() and not p.is_symlink())
    return sorted(out)


def _read(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return _cut(text) if "\0" not in text else None


def _prose_docs(seed: int, n_per_lang: int) -> list[Doc]:
    docs = []
    for locale, lang in PROSE_LOCALES.items():
        rng = random.Random(f"{seed}-man-{locale}")
        base = MAN / locale if locale else MAN
        pages = sorted(p for d in sorted(base.glob("man[1-8]")) for p in d.iterdir() if p.is_file())
        rng.shuffle(pages)
        got = 0
        for page in pages:
            if got >= n_per_lang:
                break
            try:
                paragraphs = render(page)
            except subprocess.TimeoutExpired:
                continue
            if len(paragraphs) >= 4:
                docs.append(Doc(str(page), "prose", lang, _cut("\n\n".join(paragraphs[:30]) + "\n")))
                got += 1
    rst = sorted(PYTHON_DOC.glob("**/*.rst.txt"))
    rng = random.Random(f"{seed}-python-doc")
    for path in rng.sample(rst, min(n_per_lang * 2, len(rst))):
        text = _read(path)
        if text and text.count("\n\n") >= 4:
            docs.append(Doc(str(path), "prose", "en", text))
    return docs


def _real_docs(seed: int, n_prose_per_lang: int, n_per_type: int) -> dict[str, list[Doc]]:
    """Documents per file type; each type and language draws from its own RNG, so that files
    installed or removed for one leave the others' choice as it was."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    site = Path(sysconfig.get_paths()["purelib"])
    candidates = {
        "python": _files([stdlib], ["*.py", "*/*.py"]),
        "c": _files([Path("/usr/include")], ["*.h", "*/*.h"]),
        "shell": _files([site, Path("/usr/share"), Path("/etc")], ["**/*.sh"]),
        "yaml": _files([site, Path("/usr/lib"), Path("/etc")], ["**/*.yaml", "**/*.yml"]),
        "ini": _files([site, Path("/etc"), Path("/usr/share/doc")], ["**/*.ini", "**/*.cfg", "*.conf", "*/*.conf"]),
        "env": _files([Path("/etc/default")], ["*"]) + _files([Path("/etc")], ["environment", "os-release"]),
    }
    usable = {"python": r"(?m)^\n[A-Za-z_#]", "c": r"(?m)^#define ", "shell": r"(?m)^[A-Za-z_]\w*=",
              "yaml": r"(?m)^\s*[\w.-]+:\s+\S", "ini": r"(?m)^\s*[\w.-]+\s*=\s*\S", "env": r"(?m)^#?\s*[A-Z_]+="}
    docs = {"prose": _prose_docs(seed, n_prose_per_lang)}
    for kind, paths in candidates.items():
        random.Random(f"{seed}-{kind}").shuffle(paths)
        docs[kind] = []
        for path in paths:
            if len(docs[kind]) >= n_per_type:
                break
            text = _read(path)
            if text and len(text) >= 200 and re.search(usable[kind], text):
                docs[kind].append(Doc(str(path), kind, "en", text))
    return docs


# ---- where and how a value is written in each file type -------------------------------------------
def _line_starts(doc: Doc, pattern: str) -> list[int]:
    return [m.start() for m in re.finditer(pattern, doc.base, re.M)]


def _sentence_ends(doc: Doc) -> list[int]:
    ends = [m.end() for m in re.finditer(r"(?:[.!?]\s|。)(?=\S)", doc.base)]
    return ends or [len(doc.base)]


def _indent_before(doc: Doc, pos: int) -> str:
    line = doc.base[pos: doc.base.find("\n", pos) if "\n" in doc.base[pos:] else len(doc.base)]
    return line[: len(line) - len(line.lstrip())]


ENV_NAMES = {  # a name under which a value of the class is configured (UPPER for env/shell, lower for files)
    "password": ["DB_PASSWORD", "PGPASSWORD", "MYSQL_ROOT_PASSWORD", "SMTP_PASS", "REDIS_PASSWORD", "ADMIN_PWD",
                 "LDAP_BIND_PASSWORD", "PASSWORD"],
    "aws_access_key_id": ["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": ["AWS_SECRET_ACCESS_KEY"],
    "github_token": ["GITHUB_TOKEN", "GH_TOKEN"], "slack_token": ["SLACK_BOT_TOKEN"],
    "stripe_key": ["STRIPE_SECRET_KEY", "STRIPE_API_KEY"], "google_key": ["GOOGLE_API_KEY"],
    "jwt": ["AUTH_TOKEN", "JWT"], "url_password": ["DATABASE_URL", "REDIS_URL", "BROKER_URL"],
}


def _name(rng: random.Random, cls: str, value: str, *, upper: bool) -> str:
    if cls == "google_key" or cls == "slack_token":  # the name says which of the class's tokens it is
        names = {"G": ["GOOGLE_CLIENT_SECRET"], "y": ["GOOGLE_OAUTH_TOKEN"], "h": ["SLACK_WEBHOOK_URL"]}
        name = rng.choice(names.get(value[0], ENV_NAMES[cls][:1]))
    else:
        name = rng.choice(ENV_NAMES.get(cls, ["VALUE"]))
    return name if upper else name.lower()


def _quote(rng: random.Random, value: str, *, allow_bare: bool = True) -> str:
    q = rng.choice(['"', "'", ""] if allow_bare else ['"', "'"])
    return f"{q}{value}{q}"


def _connection_url(rng: random.Random, pw: str) -> str:
    scheme = rng.choice(["postgres", "postgresql", "mysql", "redis", "mongodb+srv", "amqp", "https", "ftp"])
    user = "" if scheme == "redis" and rng.random() < 0.5 else rng.choice(["app", "admin", rng.choice(LAST), "svc_etl"])
    path = rng.choice(["/prod", "/orders", ":5432/app", "/", ":6379/0", ""])
    return f"{scheme}://{user}:{pw}@{rng.choice(HOSTS)}{path}"  # pw percent-encoded by the caller


def _snippet(rng: random.Random, doc: Doc, cls: str, value: str) -> tuple[str, str]:
    """How `value` of class `cls` is written in `doc`'s file type: (context, snippet). Snippets that
    are lines end with a newline; prose snippets are a phrase put after a sentence end."""
    t, labels = doc.type, LABELS[doc.lang]
    block = cls == "private_key"
    if cls == "url_password":
        value = _connection_url(rng, value)
    if t == "prose":
        if block:
            return "block", "\n\n" + value + "\n\n"
        phrase = {
            "email": [f"{labels['contact']}: {value}", f"({value})", f"<{value}>"],
            "phone": [f"{labels['phone']}: {value}", f"{labels['phone']} {value}", f"({labels['phone']} {value})"],
            "card": [f"{labels['card']}: {value}", f"{labels['card']} {value}"],
            "ipv4": [f"{labels['server']} {value}", f"ssh {rng.choice(LAST)}@{value}", f"http://{value}:8080/",
                     f"{value}:{rng.randint(1024, 65535)}"],
            "ipv6": [f"{labels['server']} {value}", f"ssh {rng.choice(LAST)}@{value}", f"http://[{value}]:8080/"],
            "jwt": [f"Authorization: Bearer {value}", f"curl -H 'Authorization: Bearer {value}'"],
            "url_password": [f"psql {value}", f"{labels['server']}: {value}"],
            # An AWS secret key has no shape of its own: every detector needs the name it is given.
            "aws_secret_access_key": [f"export AWS_SECRET_ACCESS_KEY={value}", f"aws_secret_access_key = {value}"],
        }.get(cls, [f"export {_name(rng, cls, value, upper=True)}={value}", f"{labels['key']}: {value}"])
        return "sentence", " " + rng.choice(phrase) + " "
    if t == "python":
        name = _name(rng, cls, value, upper=True)
        if block:
            return "line", f'{name.rsplit("_", 1)[0]}_PRIVATE_KEY = """{value}\n"""\n\n'
        return "line", rng.choice({
            "email": [f"__author_email__ = '{value}'\n", f"# Maintainer: {rng.choice(FIRST)} <{value}>\n"],
            "phone": [f"# Support hotline: {value}\n", f"SUPPORT_PHONE = '{value}'\n"],
            "card": [f"TEST_CARD = '{value}'\n", f"# charged to card {value}\n"],
            "ipv4": [f"HOST = '{value}'\n", f"# deploy: ssh {rng.choice(LAST)}@{value}\n"],
            "ipv6": [f"HOST = '{value}'\n", f"# deploy: ssh root@{value}\n"],
            "jwt": [f"HEADERS = {{'Authorization': 'Bearer {value}'}}\n"],
            "url_password": [f"DATABASE_URL = '{value}'\n"],
            "password": [f"{rng.choice(['password', 'DB_PASSWORD', 'smtp_pass', 'admin_pwd'])} = '{value}'\n"],
        }.get(cls, [f"{name} = '{value}'\n", f'{name.lower()} = "{value}"\n']))
    if t == "c":
        name = _name(rng, cls, value, upper=True)
        if block:
            escaped = value.replace("\n", "\\n")
            return "line", f'static const char *private_key_pem = "{escaped}\\n";\n'
        return "line", rng.choice({
            "email": [f"/* Maintainer: {rng.choice(FIRST)} <{value}> */\n"],
            "phone": [f"/* Support: {value} */\n"],
            "card": [f'#define TEST_PAN "{value}"\n'],
            "ipv4": [f'#define SERVER_ADDR "{value}"\n'],
            "ipv6": [f'#define SERVER_ADDR6 "{value}"\n'],
            "password": [f'#define DB_PASSWORD "{value}"\n', f'static const char *password = "{value}";\n'],
        }.get(cls, [f'#define {name} "{value}"\n', f'static const char *{name.lower()} = "{value}";\n']))
    if t in ("shell", "env"):
        name = _name(rng, cls, value, upper=True)
        if block:
            return "line", f"cat > ~/.ssh/id_deploy <<'EOF'\n{value}\nEOF\n"
        export = "export " if t == "shell" or rng.random() < 0.3 else ""
        return "line", rng.choice({
            "email": [f"MAINTAINER_EMAIL={_quote(rng, value)}\n", f"# Contact: {value}\n"],
            "phone": [f"# On-call: {value}\n", f'ONCALL_PHONE="{value}"\n'],
            "card": [f'TEST_CARD="{value}"\n'],
            "ipv4": [f"{export}SERVER_IP={value}\n", f"# ssh deploy@{value}\n"]
            + ([f"ssh -p 22 deploy@{value} 'uptime'\n"] if t == "shell" else []),
            "ipv6": [f"{export}SERVER_IP6={value}\n", f"# ssh deploy@{value}\n"],
            "jwt": [f"{export}{name}={_quote(rng, value)}\n"]
            + ([f"curl -H \"Authorization: Bearer {value}\" https://api.{rng.choice(HOSTS)}/v1/me\n"]
               if t == "shell" else []),
        }.get(cls, [f"{export}{name}={_quote(rng, value)}\n"]))
    if t == "yaml":
        if block:
            return "yaml_key", "private_key: |\n" + "".join("  " + line + "\n" for line in value.splitlines())
        name = _name(rng, cls, value, upper=False)
        return "yaml_key", rng.choice({
            "email": [f"email: {value}\n", f"maintainer: {rng.choice(FIRST)} <{value}>\n"],
            "phone": [f"phone: {_quote(rng, value)}\n"],
            "card": [f"card_number: {_quote(rng, value)}\n"],
            "ipv4": [f"host: {value}\n"], "ipv6": [f"host: {_quote(rng, value, allow_bare=False)}\n"],
            "password": [f"{rng.choice(['password', 'db_password', 'passwd', 'smtp_pass'])}: {_quote(rng, value)}\n"],
            "aws_secret_access_key": [f"aws_secret_access_key: {_quote(rng, value)}\n",
                                      f"secretAccessKey: {_quote(rng, value)}\n"],
        }.get(cls, [f"{name}: {_quote(rng, value)}\n"]))
    if t == "ini":
        if block:
            return "ini_key", "private_key = " + value.replace("\n", "\n    ") + "\n"
        name = _name(rng, cls, value, upper=False)
        sep = rng.choice([" = ", "=", " = "])
        return "ini_key", rng.choice({
            "email": [f"email{sep}{value}\n", f"; contact: {value}\n"],
            "phone": [f"phone{sep}{value}\n"],
            "card": [f"card{sep}{value}\n"],
            "ipv4": [f"host{sep}{value}\n"], "ipv6": [f"host{sep}{value}\n"],
            "password": [f"{rng.choice(['password', 'passwd', 'db_password', 'pass'])}{sep}{_quote(rng, value)}\n"],
        }.get(cls, [f"{name}{sep}{_quote(rng, value)}\n"]))
    raise ValueError(t)


def _position(rng: random.Random, doc: Doc, context: str) -> int | None:
    if context == "sentence":
        return rng.choice(_sentence_ends(doc))
    if context == "block":
        starts = [m.end() for m in re.finditer(r"\n\n", doc.base)]
        return rng.choice(starts) if starts else len(doc.base)
    if context == "line":
        pattern = {"python": r"^(?=[A-Za-z_#@])(?<=\n\n)", "c": r"^(?=#define |/\*|$)", "shell": r"^(?=[A-Za-z_#])",
                   "env": r"^(?=[A-Za-z_#])"}[doc.type]
    elif context == "yaml_key":
        pattern = r"^(?=\s*[\w.-]+:\s+[^|>\s])"
    else:  # ini_key
        pattern = r"^(?=\s*[\w.-]+\s*=\s*\S)"
    starts = _line_starts(doc, pattern)
    if not starts:
        return None
    pos = rng.choice(starts)
    if doc.type == "python":
        # at a top-level statement after a blank line, but not inside a string literal
        if doc.base[:pos].count('"""') % 2 or doc.base[:pos].count("'''") % 2:
            return None
    return pos


def _plant(rng: random.Random, doc: Doc, cls: str, variant: str, value: str, *, lookalike: bool = False) -> bool:
    context, snippet = _snippet(rng, doc, cls, value)
    pos = _position(rng, doc, context)
    if pos is None or value in doc.base:
        return False
    if context in ("yaml_key", "ini_key"):  # a sibling of the key line: same indentation
        indent = _indent_before(doc, pos)
        snippet = "".join(indent + line for line in snippet.splitlines(keepends=True))
    doc.inserts.append((pos, snippet))
    (doc.lookalikes if lookalike else doc.plants).append({"class": cls, "variant": variant, "value": value})
    return True


def _lookalike(rng: random.Random, cls: str) -> tuple[str, str, dict[str, str]]:
    """(variant, value, the snippet per file type) of a benign look-alike."""
    h = lambda n: _pick(rng, "0123456789abcdef", n)  # noqa: E731
    if cls == "version":
        v = rng.choice([f"{rng.randint(1, 12)}.{rng.randint(0, 20)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}",
                        f"{rng.randint(1, 4)}.{rng.randint(0, 40)}.{rng.randint(0, 9)}"])
        return "dotted", v, {"prose": f" (version {v}) ", "python": f"__version__ = '{v}'\n", "c": f'#define LIB_VERSION "{v}"\n',
                             "shell": f"VERSION={v}\n", "env": f"VERSION={v}\n", "yaml": f"version: {v}\n", "ini": f"version = {v}\n"}
    if cls == "commit_id":
        v = h(40) if rng.random() < 0.7 else h(rng.randint(7, 12))
        return "sha1", v, {"prose": f" (commit {v}) ", "python": f"GIT_REVISION = '{v}'\n", "c": f'#define GIT_REV "{v}"\n',
                           "shell": f"REV={v}\n", "env": f"GIT_COMMIT={v}\n", "yaml": f"rev: {v}\n", "ini": f"revision = {v}\n"}
    if cls == "uuid":
        v = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        return "uuid4", v, {"prose": f" (ID {v}) ", "python": f"REQUEST_ID = '{v}'\n", "c": f'#define DEVICE_UUID "{v}"\n',
                            "shell": f"TRACE_ID={v}\n", "env": f"INSTANCE_ID={v}\n", "yaml": f"id: {v}\n", "ini": f"uuid = {v}\n"}
    if cls == "lock_hash":
        variant = rng.choice(["sha256", "sha512_integrity", "go_sum"])
        v = {"sha256": "sha256:" + h(64),
             "sha512_integrity": "sha512-" + base64.b64encode(rng.randbytes(64)).decode(),
             "go_sum": "h1:" + base64.b64encode(rng.randbytes(32)).decode()}[variant]
        return variant, v, {"prose": f" --hash={v} ", "python": f"EXPECTED_HASH = '{v}'\n", "c": f'#define ARCHIVE_HASH "{v}"\n',
                            "shell": f"pip download --require-hashes pkg --hash={v}\n", "env": f"CHECKSUM={v}\n",
                            "yaml": f"integrity: {v}\n", "ini": f"hash = {v}\n"}
    if cls == "test_vector":
        v = rng.choice(TEST_VECTORS)
        return "published", v, {"prose": f" (test vector {v}) ", "python": f"key = bytes.fromhex('{v}')\n",
                                "c": f'static const char *test_key_hex = "{v}";\n', "shell": f"KEY_HEX={v}\n",
                                "env": f"TEST_KEY_HEX={v}\n", "yaml": f"key: {v}\n", "ini": f"key = {v}\n"}
    if cls in ("loopback_ip", "private_ip", "doc_ip"):
        v = {"loopback_ip": lambda: rng.choice(["127.0.0.1", "::1", f"127.0.{rng.randint(0, 9)}.{rng.randint(1, 9)}"]),
             "private_ip": lambda: rng.choice([f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                                               f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                                               f"172.{rng.randint(16, 31)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                                               f"fd{h(2)}:{h(4)}:{h(4)}::{h(3)}"]),
             "doc_ip": lambda: rng.choice([f"192.0.2.{rng.randint(1, 254)}", f"198.51.100.{rng.randint(1, 254)}",
                                           f"203.0.113.{rng.randint(1, 254)}", f"2001:db8:{h(3)}::{h(2)}"])}[cls]()
        return "addr", v, {"prose": f" ssh admin@{v} ", "python": f"BIND_ADDR = '{v}'\n", "c": f'#define BIND_ADDR "{v}"\n',
                           "shell": f"ssh admin@{v}\n", "env": f"BIND_ADDR={v}\n", "yaml": f"bind: {v}\n", "ini": f"bind = {v}\n"}
    if cls == "example_email":
        v = f"{rng.choice(FIRST)}@{rng.choice(['example.com', 'example.org', 'mail.example.net', 'host.test', 'example'])}"
        if v.endswith("@example"):
            v += ".invalid"
        return "rfc2606", v, {"prose": f" <{v}> ", "python": f"# e.g. {v}\n", "c": f"/* e.g. {v} */\n",
                              "shell": f"git config user.email {v}\n", "env": f"FROM_ADDR={v}\n", "yaml": f"email: {v}\n",
                              "ini": f"email = {v}\n"}
    if cls == "isbn":
        v = _isbn(rng)
        return "isbn", v, {t: (f" ISBN {v} " if t == "prose" else f"# ISBN {v}\n") for t in
                           ("prose", "python", "shell", "env", "yaml", "ini")} | {"c": f"/* ISBN {v} */\n"}
    if cls == "date_time":
        y, m, d = rng.randint(1990, 2030), rng.randint(1, 12), rng.randint(1, 28)
        hh, mm, ss = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
        v = rng.choice([f"{y}-{m:02d}-{d:02d}", f"{d:02d}.{m:02d}.{y}", f"{m:02d}/{d:02d}/{y}",
                        f"{y}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}Z", f"{hh:02d}:{mm:02d}:{ss:02d}",
                        f"{d:02d}.{m:02d}.{y} {hh:02d}:{mm:02d}"])
        return "date", v, {"prose": f" ({v}) ", "python": f"# updated {v}\n", "c": f"/* updated {v} */\n",
                           "shell": f"# updated {v}\n", "env": f"BUILD_DATE='{v}'\n", "yaml": f"date: '{v}'\n",
                           "ini": f"date = {v}\n"}
    if cls == "mac_address":
        v = ":".join(h(2) for _ in range(6))
        return "mac", v, {"prose": f" (MAC {v}) ", "python": f"MAC = '{v}'\n", "c": f'#define HWADDR "{v}"\n',
                          "shell": f"ip link set eth0 address {v}\n", "env": f"HWADDR={v}\n", "yaml": f"mac: {v}\n",
                          "ini": f"hwaddr = {v}\n"}
    if cls == "non_luhn_number":
        v = non_luhn_card(rng)
        return "16_digits", v, {"prose": f" (Bestellnummer {v}) ", "python": f"ORDER_NO = '{v}'\n",
                                "c": f'#define SERIAL "{v}"\n', "shell": f"ORDER={v!r}\n", "env": f"ORDER_NO='{v}'\n",
                                "yaml": f"order: '{v}'\n", "ini": f"order = {v}\n"}
    if cls == "placeholder_password":
        v = rng.choice(["${DB_PASSWORD}", "changeme", "<password>", "********", "{{ db_password }}", "%(password)s",
                        "your-password-here", "$PGPASSWORD"])
        return "placeholder", v, {"prose": f" postgres://app:{v}@localhost/db ", "python": f"password = '{v}'\n",
                                  "c": f'#define DB_PASSWORD "{v}"\n', "shell": f"export DB_PASSWORD='{v}'\n",
                                  "env": f"DB_PASSWORD={v}\n", "yaml": f"password: '{v}'\n", "ini": f"password = {v}\n"}
    raise ValueError(cls)


def _isbn(rng: random.Random) -> str:
    if rng.random() < 0.5:
        body = "978" + _pick(rng, string.digits, 9)
        check = str(-sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body)) % 10)
        return f"{body[:3]}-{body[3]}-{body[4:7]}-{body[7:]}-{check}"
    body = _pick(rng, string.digits, 9)
    check = -sum(int(c) * (10 - i) for i, c in enumerate(body)) % 11
    return f"{body[0]}-{body[1:4]}-{body[4:]}-{'X' if check == 10 else check}"


def _place_lookalike(rng: random.Random, doc: Doc, cls: str) -> bool:
    variant, value, snippets = _lookalike(rng, cls)
    snippet = snippets[doc.type]
    if doc.type == "prose":
        pos = rng.choice(_sentence_ends(doc))
    else:
        context = {"yaml": "yaml_key", "ini": "ini_key"}.get(doc.type, "line")
        pos = _position(rng, doc, context)
        if pos is None:
            return False
        if context != "line":
            snippet = _indent_before(doc, pos) + snippet
    doc.inserts.append((pos, snippet))
    doc.lookalikes.append({"class": cls, "variant": variant, "value": value})
    return True


# Where each class is planted: file types whose syntax holds it plausibly.
TYPES = {
    "email": ["prose", "python", "c", "shell", "yaml", "ini", "env"], "ipv4": ["prose", "python", "c", "shell", "yaml", "ini", "env"],
    "ipv6": ["prose", "python", "c", "shell", "yaml", "ini", "env"], "phone": ["prose", "prose", "python", "c", "yaml", "ini", "env"],
    "card": ["prose", "prose", "python", "yaml", "ini", "env"], "private_key": ["prose", "python", "c", "shell", "yaml", "ini"],
    "password": ["python", "c", "shell", "yaml", "ini", "env"], "url_password": ["prose", "python", "shell", "yaml", "ini", "env"],
}
SECRET_TYPES = ["prose", "python", "c", "shell", "yaml", "ini", "env"]


def build_set(*, seed: int = 0, per_class: int = 30, lookalikes_per_class: int = 30, prose_per_lang: int = 4,
              docs_per_type: int = 25) -> list[dict]:
    """The planted set: documents with `per_class` plants of every class and `lookalikes_per_class`
    look-alikes of every kind; deterministic for a seed (and the files installed)."""
    docs = _real_docs(seed, prose_per_lang, docs_per_type)
    rng = random.Random(seed)
    for cls in PLANT_CLASSES:
        planted = 0
        while planted < per_class:
            kind = rng.choice(TYPES.get(cls, SECRET_TYPES))
            if not docs[kind]:
                continue
            doc = rng.choice(docs[kind])
            if cls == "email":
                variant, value = email(rng)
            elif cls == "ipv4":
                variant, value = "global", global_ipv4(rng)
            elif cls == "ipv6":
                variant, value = "global", global_ipv6(rng)
            elif cls == "phone":
                variant, value = phone(rng)
            elif cls == "card":
                variant, value = card(rng)
            elif cls == "private_key":
                variant, value = private_key_block(rng)
            elif cls == "jwt":
                variant, value = "jwt", jwt(rng)
            elif cls == "password":
                variant, value = cls, password(rng)
            elif cls == "url_password":  # percent-encoded, as a URL holds it
                variant, value = cls, urllib.parse.quote(password(rng), safe="")
            else:
                variant, value = secret(rng, cls)
            planted += _plant(rng, doc, cls, variant, value)
    for cls in LOOKALIKE_CLASSES:
        placed = 0
        while placed < lookalikes_per_class:
            kind = rng.choice(sorted(docs))
            if docs[kind]:
                placed += _place_lookalike(rng, rng.choice(docs[kind]), cls)
    rows = []
    for kind in sorted(docs):
        for i, doc in enumerate(docs[kind]):
            rows.append({"doc": f"{kind}-{i}", "path": doc.path, "type": doc.type, "lang": doc.lang, "base": doc.base,
                         "text": doc.text(), "plants": doc.plants, "lookalikes": doc.lookalikes})
    return rows


# ---- scoring ------------------------------------------------------------------------------------
def plant_leaks(plant: dict) -> list[str]:
    """The strings of a plant none of which may be left after redaction: a key block's base64 lines
    (it may be re-wrapped or escaped in the file), the value itself otherwise."""
    if plant["class"] == "private_key":
        return [line for line in plant["value"].splitlines()[1:-1] if len(line) >= 16]
    return [plant["value"]]


def score(rows: list[dict], redact) -> dict:
    """Per class: plants redacted and look-alikes kept by `redact(text) -> redacted text`, with the
    values missed; and what was redacted in the documents before planting (`base`)."""
    redacted_n, plants_n, kept_n, look_n = Counter(), Counter(), Counter(), Counter()
    missed: dict[str, list[str]] = {}
    for row in rows:
        out = redact(row["text"])
        for p in row["plants"]:
            plants_n[p["class"]] += 1
            if any(s in out for s in plant_leaks(p)):
                missed.setdefault(p["class"], []).append(p["value"])
            else:
                redacted_n[p["class"]] += 1
        for lk in row["lookalikes"]:
            look_n[lk["class"]] += 1
            if out.count(lk["value"]) >= row["text"].count(lk["value"]):
                kept_n[lk["class"]] += 1
            else:
                missed.setdefault(lk["class"], []).append(lk["value"])
    return {
        "plants": {c: {"n": plants_n[c], "redacted": redacted_n[c], "recall": redacted_n[c] / plants_n[c]}
                   for c in PLANT_CLASSES if plants_n[c]},
        "lookalikes": {c: {"n": look_n[c], "kept": kept_n[c], "kept_rate": kept_n[c] / look_n[c]}
                       for c in LOOKALIKE_CLASSES if look_n[c]},
        "missed": missed,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-class", type=int, default=30)
    args = ap.parse_args(argv)
    rows = build_set(seed=args.seed, per_class=args.per_class, lookalikes_per_class=args.per_class)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    plants = Counter(p["class"] for r in rows for p in r["plants"])
    looks = Counter(lk["class"] for r in rows for lk in r["lookalikes"])
    print(f"{len(rows)} documents, {sum(plants.values())} plants, {sum(looks.values())} look-alikes -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
