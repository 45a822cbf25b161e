"""Fixture ``space_oauth``: the environment a Space with ``hf_oauth: true`` runs in.

On a Space, Gradio serves the real "Sign in with Hugging Face" routes, configured by variables the Hub sets
(``SYSTEM``, ``SPACE_ID``, ``OAUTH_*``). Gradio reads the ``OAUTH_*`` ones once, when ``gradio.oauth`` is
imported, so they are set on that module too. Nothing is contacted until someone actually signs in.
"""

from __future__ import annotations

import gradio.oauth
import pytest

SPACE_OAUTH = {
    "OAUTH_CLIENT_ID": "local-test-client",
    "OAUTH_CLIENT_SECRET": "local-test-secret",
    "OAUTH_SCOPES": "openid profile",
    "OPENID_PROVIDER_URL": "http://127.0.0.1:9/openid",  # a closed port: never reached by these tests
}


@pytest.fixture
def space_oauth(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    environ = {"SYSTEM": "spaces", "SPACE_ID": "org/space", **SPACE_OAUTH}
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    for name, value in SPACE_OAUTH.items():
        monkeypatch.setattr(gradio.oauth, name, value)
    return environ
