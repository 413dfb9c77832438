"""Shared by the capture tests: skip without llama-cpp-python (fail instead under REQUIRE_CAPTURE=1,
as CI sets it once it installs the extra), and the tiny models they run."""

from __future__ import annotations

import importlib.util
import os

import pytest

HAVE_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None
REASON = "llama-cpp-python is not installed (pip install -e '.[capture]'; builds llama.cpp, a few minutes)"

if not HAVE_LLAMA_CPP and os.environ.get("REQUIRE_CAPTURE") == "1":
    raise RuntimeError(f"REQUIRE_CAPTURE=1 but {REASON}")

needs_llama_cpp = pytest.mark.skipif(not HAVE_LLAMA_CPP, reason=REASON)

# 20 bytes = 20 tokens of the tiny models' byte-level vocabulary.
PROMPT_20 = "Routing, token-wise!"
assert len(PROMPT_20.encode()) == 20
