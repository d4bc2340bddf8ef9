from curate.quality.words import split_words


def test_spaced_scripts_split_on_words_and_symbols():
    assert split_words("Hello, world... it's 3.14!") == ["Hello", ",", "world", "...", "it", "'s", "3.14", "!"]


def test_spacy_rules():
    # Tokens as spacy.blank("en") makes them: special cases ("can't", "e.g."), prefixes and
    # suffixes peeled off in turn, infixes ("/" between letters, "-" between digits) split, but
    # not at the start of a chunk ("/usr", "--foo").
    assert split_words("can't (e.g., /usr/bin) --foo 3.130-1 well-known") == [
        "ca", "n't", "(", "e.g.", ",", "/usr", "/", "bin", ")", "--foo", "3.130", "-", "1", "well", "-", "known"]
    # Special cases the affix rules split are put back together, the longest then the first.
    assert split_words("x[:] x''' :-)") == ["x", "[:", "]", "x", "''", "'", ":-)"]


def test_url_stays_whole():
    assert split_words("see https://docs.python.org/3/library/re.html now") == [
        "see", "https://docs.python.org/3/library/re.html", "now"]


def test_cjk_is_split_per_character_and_latin_kept_apart():
    assert split_words("東京はPython3が好き。") == ["東", "京", "は", "Python3", "が", "好", "き", "。"]


def test_thai_is_split_into_base_characters_with_their_marks():
    # "ภาษาไทย" (Thai language): 7 base characters, no marks.
    assert split_words("ภาษาไทย") == ["ภ", "า", "ษ", "า", "ไ", "ท", "ย"]
    # "น้ำ" (water): the tone mark stays with its base character.
    assert split_words("น้ำ") == ["น้", "ำ"]


def test_korean_uses_spaces():
    assert split_words("한국어 문장입니다.") == ["한국어", "문장입니다", "."]


def test_empty_whitespace_and_emoji():
    assert split_words("") == []
    assert split_words(" \n\t ") == []
    assert split_words("😀🎉") == ["😀", "🎉"]
