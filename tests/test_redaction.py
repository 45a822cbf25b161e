"""Text bound for public records is cut and has secret-looking strings replaced."""

from evaluator.redaction import REDACTED, configured_secrets, redact


def test_hub_tokens_bearer_values_and_configured_secrets_are_replaced():
    text = "token hf_AbCdEf0123456789xyz; Authorization: Bearer abc.def-123456; salt pepper-secret-42 end"
    out = redact(text, secrets=["pepper-secret-42"])
    assert "hf_AbCdEf" not in out and "abc.def-123456" not in out and "pepper-secret-42" not in out
    assert out.count(REDACTED) == 3
    assert out.startswith("token ") and out.endswith(" end")


def test_secrets_come_from_secret_named_environment_variables():
    environ = {"HF_TOKEN": "hf_zzzzzzzzzzzz", "ARENA_VOTER_SALT": "s3cr3t-salt", "PATH": "/usr/bin:/bin",
               "EVALUATOR_ENABLED": "1", "API_KEY": "abc"}  # too short to be treated as a secret
    assert sorted(configured_secrets(environ)) == ["hf_zzzzzzzzzzzz", "s3cr3t-salt"]


def test_output_is_cut_to_its_tail_after_redaction():
    secret = "x-very-long-secret-value"
    text = "a" * 5000 + secret + "b" * 10
    out = redact(text, limit=100, secrets=[secret])
    assert len(out) == 100 and out.endswith(REDACTED + "b" * 10) and secret not in out
    assert redact(None) is None
    assert redact("short", secrets=[]) == "short"
