"""The bundled local Hub: a small Hugging Face Hub-protocol server (``localhub.server``) that the tests and the
offline samples use, with sample repos and sample evaluation data (``python -m localhub``)."""
