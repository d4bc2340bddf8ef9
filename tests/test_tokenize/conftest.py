import hashlib
import shutil

import pytest
import tiktoken

from curate.tokenize.encoder import bpe_file

OFFICIAL_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """tiktoken's own cl100k_base, its download served from a cache holding the bundled file."""
    cache = tmp_path_factory.mktemp("tiktoken_cache")
    shutil.copy(bpe_file(), cache / hashlib.sha1(OFFICIAL_URL.encode()).hexdigest())
    mp = pytest.MonkeyPatch()
    mp.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    try:
        yield tiktoken.get_encoding("cl100k_base")
    finally:
        mp.undo()
