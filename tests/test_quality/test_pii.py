import sysconfig
from pathlib import Path

import pytest

from curate.quality import native, pii
from curate.quality.pii import PiiOptions, redact

OPTS = PiiOptions()


@pytest.mark.parametrize(("text", "expected", "kind"), [
    ("Mail jane.doe@gmail.com today.", "Mail <EMAIL> today.", "EMAIL"),
    ("server at 8.8.4.4:53", "server at <IPV4>:53", "IPV4"),
    ("reply from 8.8.4.4.", "reply from <IPV4>.", "IPV4"),
    ("ping 2001:4860:4860::8888 now", "ping <IPV6> now", "IPV6"),
    ('AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLQ"', 'AWS_ACCESS_KEY_ID = "<SECRET_AWS_KEY>"', "SECRET_AWS_KEY"),
    ('key = "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"', 'key = "<SECRET_GCP_KEY>"', "SECRET_GCP_KEY"),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token <SECRET_GITHUB_TOKEN>", "SECRET_GITHUB_TOKEN"),
    ('api_key = "q8Z3kLmN0pR7sT2vW9xY4"', 'api_key = "<SECRET_TOKEN>"', "SECRET_TOKEN"),
    ('"client_secret": "9fQ2xLw7Kp3Rt8Zb1Vn"', '"client_secret": "<SECRET_TOKEN>"', "SECRET_TOKEN"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----\nrest",
     "<SECRET_PRIVATE_KEY>\nrest", "SECRET_PRIVATE_KEY"),
    # a block cut before its END (a 256-character excerpt) is redacted all the same
    ("key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9u",
     "key:\n<SECRET_PRIVATE_KEY>", "SECRET_PRIVATE_KEY"),
    ("Kontakt: jürgen.weiß@bücher-haus.de.", "Kontakt: <EMAIL>.", "EMAIL"),
    ("連絡先 山田太郎@会社.jp まで", "連絡先 <EMAIL> まで", "EMAIL"),
    ("ssh deploy@81.2.69.160 uptime", "ssh deploy@<IPV4> uptime", "IPV4"),
    ("ssh root@2a01:4f8:c2c:123f::1", "ssh root@<IPV6>", "IPV6"),
    ("Tel.: +49 30 12345678.", "Tel.: <PHONE>.", "PHONE"),
    ("call (415) 867-5309 or", "call <PHONE> or", "PHONE"),
    ("Tél. 01 23 45 67 89", "Tél. <PHONE>", "PHONE"),
    ("電話 03-1234-5678", "電話 <PHONE>", "PHONE"),
    ("Tel. 912 34 56 78", "Tel. <PHONE>", "PHONE"),  # no trunk prefix: found after its label
    ("card 4111 1111 1111 1111 expires", "card <CARD> expires", "CARD"),
    ("amex 3782-822463-10005", "amex <CARD>", "CARD"),
    ("pan=5555555555554444;", "pan=<CARD>;", "CARD"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     "Authorization: Bearer <SECRET_JWT>", "SECRET_JWT"),
    ("DATABASE_URL=postgres://app:S3cr3t%21pw@db.acme-corp.net:5432/app",
     "DATABASE_URL=postgres://app:<SECRET_PASSWORD>@db.acme-corp.net:5432/app", "SECRET_PASSWORD"),
    ("export PGPASSWORD=Tulpe2023!\n", "export PGPASSWORD=<SECRET_PASSWORD>\n", "SECRET_PASSWORD"),
    ("  db_password: sH6XXmZnotXC8M5SL\n", "  db_password: <SECRET_PASSWORD>\n", "SECRET_PASSWORD"),
    ('#define DB_PASSWORD "cGXFB8Y-3y9qScEMFQe0"', '#define DB_PASSWORD "<SECRET_PASSWORD>"', "SECRET_PASSWORD"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ3d9w2Ab1\n",
     "aws_secret_access_key = <SECRET_AWS_SECRET_KEY>\n", "SECRET_AWS_SECRET_KEY"),
    ("SLACK=https://hooks.slack.com/services/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",
     "SLACK=<SECRET_SLACK_TOKEN>", "SECRET_SLACK_TOKEN"),
    ("secret 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.", "secret <SECRET_GOOGLE_OAUTH>.", "SECRET_GOOGLE_OAUTH"),
])
def test_planted_items_are_redacted_with_typed_placeholders(text, expected, kind):
    assert redact(text, OPTS) == (expected, {kind: 1})


def test_unquoted_assignments_are_found_after_characters_whose_lower_case_is_longer():
    """"İ".lower() is two characters: the lines holding a name word are found line by line then."""
    text = "Istanbul is İstanbul\nexport PGPASSWORD=Tulpe2023!\nİ again\n"
    assert redact(text, OPTS) == (text.replace("Tulpe2023!", "<SECRET_PASSWORD>"), {"SECRET_PASSWORD": 1})


@pytest.mark.parametrize("text", [
    "Requires version 1.2.3.4 or later; v1.2.3.4; pkg==1.2.3.4; build 1.2.3.4.5",
    "See the docs at admin@example.com or user@mail.example.org",
    "local 127.0.0.1, private 192.168.1.1 and 10.0.0.1, docs range 192.0.2.1",
    "C++ std::vector and a time 12:30:45 and a MAC-ish dead:beef",
    'sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"',
    '"integrity": "sha512-abc123DEF456ghi789JKL012mno345PQR678stu901VWX234yz=="',
    'commit = "3f786850e387550fdab836ed7e6dc881de23001b"',
    'password = "changeme"',
    'api_key = "${API_KEY}"',
    "python3 -m pip install requests==2.31.0",
    "__version__ = '4.8.28.89'; #define LIB_VERSION \"1.18.20.24\"",
    "postgres://app:password@localhost/db and postgres://app:${DB_PASSWORD}@db/x and f'{user}:{pw}@{host}'",
    "ISBN 978-3-16-148410-0, ISBN 0-306-40615-2, on 15.03.2024 14:30 or 2024-03-15T10:22:31Z, 03/15/2024 10:22",
    "Boston, MA 02111-1307  USA",  # ZIP+4 in licence headers
    "order 4532 0151 1283 0368 (fails Luhn), id 1234567890123, 2019-2023",
    "keystore_password_ref: SecretScopeReference",  # a type annotation
    "private_key: x25519.X25519PrivateKey",
    'AttributeOID.CHALLENGE_PASSWORD: "challengePassword",',
    'OIDC_TOKEN_PATH = "/oidc/v1/token"',
    "password = getpass.getpass()\npassword: ********\nDB_PASSWORD=$1",
    "#  0xff ff ff 00 01 02 03 04 and 06/28/04 06/29/04 06/30/04",
    "MAC 00:1a:2b:3c:4d:5e, uuid 9f1c2b7e-3d4a-4c5b-8e6f-7a8b9c0d1e2f",
])
def test_traps_are_left_alone(text):
    assert redact(text, OPTS) == (text, {})


def test_lock_file_hashes_are_left_alone():
    lock = ('[[package]]\nname = "requests"\nversion = "2.31.0"\n'
            'files = [{file = "requests-2.31.0.tar.gz", hash = '
            '"sha256:942c5a758f98d790eaed1a29cb6eefc7ffb0d1cf7af05c3d2791656dbd6ad1e1"}]\n')
    assert redact(lock, OPTS) == (lock, {})


def test_an_aws_secret_key_right_after_its_key_id_is_redacted_but_not_a_commit_id():
    text = "AKIAYX76S3RFBG7DU4Q3 / wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ3d9w2Ab1"
    assert redact(text, OPTS) == ("<SECRET_AWS_KEY> / <SECRET_AWS_SECRET_KEY>", {"SECRET_AWS_KEY": 1, "SECRET_AWS_SECRET_KEY": 1})
    text = "AWS_ACCESS_KEY_ID = 'ASIAO2TLEBKJR6YO5DD4'\nGIT_REVISION = 'f1cba4ab7bae6df7f44e95a6b1b851c286db9660'"
    assert redact(text, OPTS)[1] == {"SECRET_AWS_KEY": 1}


def test_options_switch_families():
    text = "a@gmail.com 8.8.8.8 10.0.0.1 x@example.com +49 30 12345678 4111 1111 1111 1111"
    assert redact(text, PiiOptions(emails=False, ips=False, phones=False, cards=False)) == (text, {})
    red, counts = redact(text, PiiOptions(redact_private_ips=True, keep_example_domains=False))
    assert counts == {"EMAIL": 2, "IPV4": 2}


def test_counts_per_document():
    text = "a@gmail.com b@gmail.com 8.8.8.8"
    assert redact(text, OPTS)[1] == {"EMAIL": 2, "IPV4": 1}


def test_emails_found_around_each_at_sign_are_the_patterns_matches():
    """`_emails` searches only near each "@"; it finds what `_EMAIL.finditer` finds over the whole
    text, on real code and on the edges of its windows."""
    stdlib = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("**/*.py"))[:400]
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in stdlib]
    texts += [
        "a" * 70 + "@gmail.com", "x" * 63 + "@b.co", "@@a@b.cc@d.ee", "a@b.com_x and c@d.org-", "é@b.com ab@c.d",
        "mail (" + "q" * 64 + "@example.com) and jo.doe+tag@sub.mail.co.uk.", "user@" + "a." * 200 + "com",
        "end with a@b.c", "percent %ab@cd.ef and +x@y.zz", "a@b.com" * 5,
    ]
    assert any("@" in t for t in texts[:400])
    for text in texts:
        assert [m.span() for m in pii._emails(text)] == [m.span() for m in pii._EMAIL.finditer(text)], text[:80]


def test_ipv6_found_around_each_pair_of_colons_are_the_patterns_matches():
    """`_ipv6s` searches only around each `_IPV6_HINT`; it finds what `_IPV6.finditer` finds over the
    whole text, on real code and on addresses longer than its windows."""
    stdlib = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("**/*.py"))[:400]
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in stdlib]
    texts += [
        "ping 2001:4860:4860::8888 now", "::1", "a::b::c", "1:2:3:4:5:6:7:8:9:10", "x" * 50 + "::ffff:1.2.3.4",
        "2001:db8::" + "1:" * 30, "[2a01:4f8::1]:22", "12:30:45 and 1:2", ":" * 100, "std::vector<int>::iterator",
        "ab:cd:ef:01:23:45:67:89:ab:cd:ef", "0:0:0:0:0:0:0:1" + "a" * 60 + "::2",
    ]
    assert sum(1 for t in texts[:400] for _ in pii._IPV6.finditer(t)) > 0
    for text in texts:
        assert [m.span() for m in pii._ipv6s(text)] == [m.span() for m in pii._IPV6.finditer(text)], text[:80]


def test_assignments_tried_at_each_operators_name_are_the_patterns_matches():
    """`_assignments` tries `_ASSIGNED` only at the name before each operator; it finds what
    `_ASSIGNED.finditer` finds over the whole text (names within its reach)."""
    stdlib = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("**/*.py"))[:400]
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in stdlib]
    value = "q8Z3kLmN0pR7sT2vW9xY4"
    texts += [
        f'api_key = "{value}"', f'x.api_key="{value}"', f"TOKEN := '{value}'", f"secret => '{value}'",
        f'"client_secret": "{value}"', f"'password' :  '{value}'", f'my-token\t=\t"{value}"',
        f'clé_secret = "{value}"', f'a.b.secret.c = "{value}"', f'token.x = "{value}"', f'{value}token="{value}"',
        f'token = "{value}" token = "{value}"', f'-token = "{value}"', f'password = "{value}"x = "{value}"',
        f'key="short" key="{value}"', f"token = 'unterminated {value}",
    ]
    assert sum(1 for t in texts[:400] for _ in pii._ASSIGNED.finditer(t)) > 0
    for text in texts:
        assert [m.span() for m in pii._assignments(text)] == [m.span() for m in pii._ASSIGNED.finditer(text)], text[:80]


def test_secret_shapes_run_on_the_texts_holding_their_literals():
    """A shape's pattern runs only where the text holds one of its literals (found in one pass by the
    native kernels): every match of every shape is still found, on real files and on texts built
    from the shapes' own pieces, and the native search finds what `in` finds."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    assert pii._finder(pii._SHAPE_LITERALS) is not None, "curate_kernels is not installed: run scripts/setup.sh"
    stdlib = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("**/*.py"))[:300]
    real = [p.read_text(encoding="utf-8", errors="replace") for p in stdlib]

    def assert_every_match_found(text: str) -> None:
        run = pii._shapes_in(text)
        for shape in pii._SECRET_SHAPES:
            if shape not in run:
                assert next(shape[1].finditer(text), None) is None, (shape[0], text[:80])
        found = pii._finder(pii._SHAPE_LITERALS).found(text)
        assert [bool(found >> i & 1) for i in range(len(pii._SHAPE_LITERALS))] == [
            lit in text for lit in pii._SHAPE_LITERALS]

    for text in real:
        assert_every_match_found(text)
    assert any(pii._shapes_in(t) != list(pii._SECRET_SHAPES) for t in real)  # the gate does skip shapes
    pieces = [*pii._SHAPE_LITERALS, "s", "S", "B", "b", "A", "-", "_", "=", " ", "\n", "é", "東", "🙂",
              "KIA", "ECRET", "_access_key = ", "Q8z3KlMn0pR7sT2vW9xY4aB5cD6eF7gH8iJ9kL0m", "ghp",
              "user:p4ss@host", "PRIVATE KEY-----", "GOCSPX", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"]

    @settings(max_examples=400, deadline=None)
    @given(st.lists(st.sampled_from(pieces), max_size=30).map("".join))
    def check(text):
        assert_every_match_found(text)

    check()
    assert pii._shapes_in("token\ud800 ghp_") == [s for s in pii._SECRET_SHAPES if "ghp_" in s[2]]  # not UTF-8


def test_numbers_tried_where_a_match_can_start_are_the_patterns_matches():
    """`_numbers` tries `_NUMBER` only at the starts the native kernels find possible; it finds what
    `_NUMBER.finditer` finds, on real files and on texts of digits, separators and their neighbours."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    assert native.module() is not None, "curate_kernels is not installed: run scripts/setup.sh"
    stdlib = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("**/*.py"))[:300]
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in stdlib]
    texts += ["Call +1 415-867-5309 or (415) 867 5309, card 4111 1111 1111 1111, host 8.8.8.8",
              "+49 (0)30 1234567", "(+33) 1 23 45 67 89", "tel. 912 34 56 78", "٣٤٥ ٦٧٨", "a1 22.3", "_12 34",
              "5" * 40, "4111-1111-1111-1111", "(12)-345", "2" + " 1" * 15]
    assert sum(1 for t in texts for _ in pii._NUMBER.finditer(t)) > 100
    for text in texts:
        assert [m.span() for m in pii._numbers(text)] == [m.span() for m in pii._NUMBER.finditer(text)], text[:80]

    pieces = ["1", "2", "4", "7", "0", "12", "415", "1234", "٣", "５", "²", "+", "(", ")", "(0)", " ", "\t", ".",
              "/", "-", ",", "a", "_", "é", "\n", "x.", "4111 1111 1111 1111"]

    @settings(max_examples=500, deadline=None)
    @given(st.lists(st.sampled_from(pieces), max_size=40).map("".join))
    def check(text):
        assert [m.span() for m in pii._numbers(text)] == [m.span() for m in pii._NUMBER.finditer(text)]

    check()
    text = "\ud800 call +1 415 867 5309"  # not UTF-8: the pattern alone
    assert [m.span() for m in pii._numbers(text)] == [m.span() for m in pii._NUMBER.finditer(text)] != []


def test_assignment_operators_and_name_word_lines_found_natively_are_pythons(monkeypatch):
    """The native kernels find `_ASSIGN_OP`'s matches and the lines holding a name word as
    `re.finditer` and `str.lower()` do: on real files and on texts of operators, quotes, every kind
    of whitespace and the characters whose case changes are special (the Kelvin sign, `İ`)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    assert native.module() is not None, "curate_kernels is not installed: run scripts/setup.sh"
    stdlib = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("**/*.py"))[:300]
    real = [p.read_text(encoding="utf-8", errors="replace") for p in stdlib]

    def python_lines(text):
        with monkeypatch.context() as m:
            m.setattr(pii, "_finder", lambda *literals: None)
            return pii._name_word_lines(text)

    def assert_same(text):
        assert pii._assign_ops(text) == [m.span() for m in pii._ASSIGN_OP.finditer(text)]
        assert pii._name_word_lines(text) == python_lines(text)

    for text in real:
        assert_same(text)
    assert sum(len(pii._name_word_lines(t)) for t in real) > 100 and sum(len(pii._assign_ops(t)) for t in real) > 100
    pieces = [":", "=", ">", "=>", ":=", '"', "'", " ", "\t", "\n", "\u3000", "\x1c", "\xa0", "\u2028", "KEY", "key",
              "Secret", "TOKEN", "pass", "PwD", "credential", "k", "e", "y", "\u212aey", "İ", "ß", "é", "東", "🙂", "x"]

    @settings(max_examples=500, deadline=None)
    @given(st.lists(st.sampled_from(pieces), max_size=40).map("".join))
    def check(text):
        assert_same(text)

    check()
    assert pii._name_word_lines("a\n\u212aey = 1\nb") == [2]  # the Kelvin sign lower-cases to k: Python's way
    assert pii._assign_ops('\ud800 x = "1"') == [(4, 7)]  # not UTF-8: the pattern alone
