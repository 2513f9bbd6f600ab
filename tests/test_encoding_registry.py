"""The registry, the model table and the patterns against tiktoken's; llmprep without tiktoken installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import llmprep
import pytest
import tiktoken
import tiktoken.model
import tiktoken_ext.openai_public as openai_public
from llmprep.encoding import model, patterns, registry


def test_patterns_are_tiktokens(monkeypatch) -> None:
    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", lambda *a, **kw: {})
    monkeypatch.setattr(openai_public, "data_gym_to_mergeable_bpe_ranks", lambda *a, **kw: {})
    got = {name: constructor()["pat_str"] for name, constructor in openai_public.ENCODING_CONSTRUCTORS.items()}
    assert got["gpt2"] == patterns.GPT2_PATTERN == openai_public.r50k_pat_str
    assert got["cl100k_base"] == patterns.CL100K_PATTERN
    assert got["o200k_base"] == got["o200k_harmony"] == patterns.O200K_PATTERN
    for name, pat_str in got.items():
        assert patterns.native_pattern_name(pat_str) == registry._SPECS[name].pattern, name
    assert patterns.native_pattern_name(r"\w+") is None


def test_model_tables_are_tiktokens() -> None:
    assert model.MODEL_TO_ENCODING == tiktoken.model.MODEL_TO_ENCODING
    assert list(model.MODEL_PREFIX_TO_ENCODING.items()) == list(tiktoken.model.MODEL_PREFIX_TO_ENCODING.items())
    for name in [*tiktoken.model.MODEL_TO_ENCODING, "gpt-4o-2024-05-13", "gpt-3.5-turbo-FAKE", "ft:gpt-4o:x", "o3-x"]:
        assert llmprep.encoding_name_for_model(name) == tiktoken.encoding_name_for_model(name), name
    with pytest.raises(KeyError, match="Could not automatically map nope to a tokeniser"):
        llmprep.encoding_name_for_model("nope")
    with pytest.raises(KeyError):
        llmprep.encoding_for_model("nope")


def test_names_are_tiktokens(tiktoken_gpt2) -> None:
    assert llmprep.list_encoding_names() == tiktoken.list_encoding_names()
    assert tuple(openai_public.ENCODING_CONSTRUCTORS) == registry.ENCODING_NAMES
    assert llmprep.encoding_for_model("gpt-2") is llmprep.get_encoding("gpt2")


def test_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown encoding 'gpt3'.*'cl100k_base'"):
        llmprep.get_encoding("gpt3")
    with pytest.raises(ValueError, match="Expected a string in get_encoding"):
        llmprep.get_encoding(None)  # type: ignore[arg-type]


def test_other_tiktoken_plugins_are_found(monkeypatch, tiktoken_gpt2) -> None:
    # An encoding from another tiktoken_ext plugin loads through its constructor, as in tiktoken.
    import types

    enc = llmprep.get_encoding("gpt2")
    plugin = types.SimpleNamespace(
        ENCODING_CONSTRUCTORS={
            "tiny_plugin": lambda: {
                "name": "tiny_plugin",
                "pat_str": patterns.GPT2_PATTERN,
                "mergeable_ranks": enc._mergeable_ranks,
                "special_tokens": {"<|endoftext|>": 50256},
            }
        }
    )
    monkeypatch.setattr(registry, "_plugins", None)
    monkeypatch.setattr(registry.pkgutil, "iter_modules", lambda path, prefix: [(None, "tiktoken_ext.tiny", False)])
    monkeypatch.setattr(registry.importlib, "import_module", lambda name: plugin)
    monkeypatch.setattr(registry, "_ENCODINGS", {})
    assert llmprep.list_encoding_names()[-1] == "tiny_plugin"
    tiny = llmprep.get_encoding("tiny_plugin")
    assert tiny.encode("hello world") == [31373, 995]
    assert tiny._native == "gpt2"


def test_native_path_needs_no_tiktoken(tmp_path) -> None:
    # With tiktoken unimportable, the native encodings work and the fallback names the remedy.
    program = textwrap.dedent(
        """
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("tiktoken", "tiktoken_ext"):
                    raise ImportError("blocked: " + name)

        sys.meta_path.insert(0, Block())
        import llmprep
        enc = llmprep.get_encoding("gpt2")
        assert enc.encode("hello world") == [31373, 995]
        assert llmprep.list_encoding_names()[0] == "gpt2"
        try:
            llmprep.Encoding("x", pat_str=r"\\w+", mergeable_ranks=enc._mergeable_ranks, special_tokens={})
        except ImportError as e:
            assert "pip install tiktoken" in str(e), e
        else:
            raise AssertionError("no ImportError")
        assert "tiktoken" not in sys.modules
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
