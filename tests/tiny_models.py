"""Tiny real models for tests; they live in the local Hub's product module (``localhub.tiny_models``)."""

from localhub.tiny_models import CORPUS, SPECIAL_TOKENS, build_lora, build_tiny_llama, build_tokenizer

__all__ = ["CORPUS", "SPECIAL_TOKENS", "build_lora", "build_tiny_llama", "build_tokenizer"]
