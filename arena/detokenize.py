"""Incremental detokenisation: the text each new token adds, in constant work per token.

Decoding a row's tokens one at a time does not give its text: a character can span several tokens (byte-level
BPE splits UTF-8 bytes), and some decoders drop or add a space depending on a token's neighbours (SentencePiece's
leading "▁"). Decoding the whole row again on every token is right but quadratic. The prefix-offset technique of
text-generation-inference and vLLM decodes a short window instead: the tokens shown last time (the prefix, for
context) plus the new ones, and emits what the new ones add. Text ending in U+FFFD (an incomplete UTF-8
sequence) or adding nothing (a skipped special token) is held back until a later token completes it, and so is
a run of SentencePiece byte-fallback tokens (``<0xE2>``): its decoder turns the whole run into U+FFFD when any
byte of it is invalid, so the run's text is known only once a non-byte token closes it.

The window stays short: once more than :data:`MAX_WINDOW` tokens are held back (a model emitting stray bytes or
special tokens), the part that no later token can change is shown and the window restarts after it.
:meth:`IncrementalText.finish` decodes the whole row once, so the joined increments equal
``tokenizer.decode(tokens, skip_special_tokens=...)``.
"""

from __future__ import annotations

import logging
import re

from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)
MAX_WINDOW = 8  # tokens; an incomplete UTF-8 sequence spans at most 3 bytes, so 3 tokens
_INCOMPLETE = "\ufffd"
_BYTE_FALLBACK = re.compile(r"<0x[0-9A-Fa-f]{2}>")


class IncrementalText:
    """One row's answer, fed token by token: :meth:`add` returns the text a token adds ("" while held back),
    :meth:`finish` the rest."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, *, skip_special_tokens: bool = True):
        self.tokenizer = tokenizer
        self.skip_special_tokens = skip_special_tokens
        self.tokens: list[int] = []
        self.prefix = 0  # start of the window: tokens shown before, decoded again for context
        self.read = 0  # first token not shown yet
        self.shown: list[str] = []
        self.run_open: list[bool] = []  # per token: whether a byte-fallback run is still open after it
        self._skipped = _special_ids(tokenizer) if skip_special_tokens else set()

    def add(self, token: int) -> str:
        self.tokens.append(token)
        if token in self._skipped:  # a skipped token neither opens nor closes a byte run
            self.run_open.append(bool(self.run_open) and self.run_open[-1])
        else:
            self.run_open.append(bool(_BYTE_FALLBACK.fullmatch(self.tokenizer.convert_ids_to_tokens(token))))
        if self.run_open[-1]:
            return ""
        before = self._decode(self.prefix, self.read)
        text = self._decode(self.prefix, len(self.tokens))
        if len(text) > len(before) and text.startswith(before) and not text.endswith(_INCOMPLETE):
            return self._show(text[len(before) :], prefix=self.read, read=len(self.tokens))
        if len(self.tokens) - self.prefix > MAX_WINDOW:
            return self._restart_window(before, text)
        return ""

    def finish(self) -> str:
        """The rest of the answer (held-back text included), from one decode of all its tokens."""
        full = self._decode(0, len(self.tokens))
        shown = "".join(self.shown)
        if not full.startswith(shown):  # a tokenizer that rewrites earlier text (clean_up_tokenization_spaces)
            log.warning("streamed text differs from the decoded answer: %r vs %r", shown[-40:], full[-40:])
        return self._show(full[len(shown) :], prefix=len(self.tokens), read=len(self.tokens))

    def _restart_window(self, before: str, text: str) -> str:
        """Show up to the last cut no later token can change (its text is a prefix of the window's with at
        least 3 tokens after it), and restart the window there, without context."""
        for end in range(len(self.tokens) - 3, self.read - 1, -1):
            if self.run_open[end - 1]:
                continue
            cut = self._decode(self.prefix, end)
            if text.startswith(cut) and cut.startswith(before):
                return self._show(cut[len(before) :], prefix=end, read=end)
        return ""

    def _show(self, increment: str, *, prefix: int, read: int) -> str:
        self.prefix, self.read = prefix, read
        if increment:
            self.shown.append(increment)
        return increment

    def _decode(self, start: int, end: int) -> str:
        return self.tokenizer.decode(self.tokens[start:end], skip_special_tokens=self.skip_special_tokens)


def _special_ids(tokenizer: PreTrainedTokenizerBase) -> set[int]:
    """The ids ``decode(skip_special_tokens=True)`` drops: the named special tokens and added ones marked special."""
    added = {i for i, token in tokenizer.added_tokens_decoder.items() if token.special}
    return added | set(tokenizer.all_special_ids)
