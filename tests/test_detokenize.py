"""Incremental detokenisation (arena/detokenize.py) on real tokenizers: the test Llama's byte-level BPE and a
Llama-style SentencePiece BPE (▁ for spaces, byte fallback), both trained here. The joined increments equal one
decode of all the tokens, on sequences that split characters across tokens, join words and mix in special
tokens, and the text comes out as the tokens arrive, not at the end."""

from __future__ import annotations

import json
import random

import pytest
from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    trainers,
)
from transformers import PreTrainedTokenizerFast

from arena.detokenize import MAX_WINDOW, IncrementalText
from tests.tiny_models import CORPUS, SPECIAL_TOKENS, build_tokenizer

TEXTS = ["naïve café, déjà vu — 東京 and 🙂🎉 emoji", "hello world how are you today", "  two  spaces\nnew line"]


def sentencepiece_tokenizer() -> PreTrainedTokenizerFast:
    """Llama-2's pipeline: ▁ for spaces, characters outside the vocabulary as <0xNN> byte tokens."""
    trained = Tokenizer(models.BPE(unk_token="<unk>"))
    trained.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    trained.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never", split=False)
    trained.train_from_iterator(CORPUS * 4, trainers.BpeTrainer(vocab_size=300, special_tokens=SPECIAL_TOKENS))
    model = json.loads(trained.to_str())["model"]
    vocab, merges = model["vocab"], [tuple(pair) for pair in model["merges"]]
    vocab.update({f"<0x{i:02X}>": len(vocab) + i for i in range(256)})
    tokenizer = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", byte_fallback=True))
    tokenizer.normalizer, tokenizer.pre_tokenizer = trained.normalizer, trained.pre_tokenizer
    tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                           decoders.Strip(" ", 1, 0)])
    tokenizer.add_special_tokens(SPECIAL_TOKENS)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>",
                                   eos_token="</s>", pad_token="<pad>")


@pytest.fixture(scope="module", params=["byte-level", "sentencepiece"])
def tokenizer(request, tmp_path_factory):
    if request.param == "byte-level":
        return build_tokenizer(tmp_path_factory.mktemp("tokenizer"))
    return sentencepiece_tokenizer()


def stream(tokenizer, tokens, skip_special_tokens=True) -> list[str]:
    text = IncrementalText(tokenizer, skip_special_tokens=skip_special_tokens)
    return [text.add(t) for t in tokens] + [text.finish()]


@pytest.mark.parametrize("skip", [True, False])
def test_increments_join_to_the_full_decode(tokenizer, skip):
    specials = tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS)
    sequences = [tokenizer(t, add_special_tokens=False).input_ids for t in TEXTS]
    sequences.append(sequences[0][:5] + specials + sequences[0][5:])  # special tokens between characters
    rng = random.Random(0)
    sequences += [[rng.randrange(len(tokenizer)) for _ in range(60)] for _ in range(200)]  # stray bytes included
    for tokens in sequences:
        assert "".join(stream(tokenizer, tokens, skip)) == tokenizer.decode(tokens, skip_special_tokens=skip)


def test_a_character_split_across_tokens_waits_for_its_last_byte(tokenizer):
    tokens = tokenizer("a 🙂 b", add_special_tokens=False).input_ids
    pieces = stream(tokenizer, tokens)
    assert "".join(pieces) == tokenizer.decode(tokens)
    assert all("\ufffd" not in p for p in pieces)
    assert len(tokenizer.convert_ids_to_tokens(tokens)) > 3 and "🙂" in "".join(pieces[:-1])  # shown before the end


def test_text_comes_out_as_the_tokens_arrive(tokenizer):
    tokens = tokenizer(TEXTS[1], add_special_tokens=False).input_ids
    pieces = stream(tokenizer, tokens)
    assert pieces[-1] == ""  # nothing was left for the end
    assert sum(bool(p) for p in pieces) == len(tokens)  # one word piece per token
    assert "".join(pieces) == TEXTS[1]


def test_the_window_stays_short_whatever_the_tokens(tokenizer):
    stray = ["<pad>", "Ā"]  # a skipped special token; a lone UTF-8 continuation byte (byte-level BPE's 0x80)
    for tokens in ([tokenizer.convert_tokens_to_ids(t)] * 200 for t in stray if t in tokenizer.get_vocab()):
        text = IncrementalText(tokenizer)
        widest = max(len(text.tokens) - text.prefix for token in tokens if text.add(token) is not None)
        assert widest <= 2 * MAX_WINDOW
        assert "".join(text.shown) + text.finish() == tokenizer.decode(tokens, skip_special_tokens=True)
