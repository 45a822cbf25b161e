"""The organisers' panel under a board with a hidden test: type the organiser token, reveal the test scores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from challenges.definitions import Challenge
from leaderboard.hidden_test import reveal_hidden_test
from store.base import Store

REVEAL_HELP = (
    "**Organisers**: publish the hidden test's scores. Every stored test score of this board's entries is copied "
    "into a public record that is never changed afterwards; the board then shows the test columns, ranks by the "
    "test average and shows each entry's validation-to-test gap. Needs the organiser token."
)


@dataclass(frozen=True)
class RevealPanel:
    token: gr.Textbox
    button: gr.Button
    outcome: gr.Markdown
    act: Callable[[str], str]  # organiser token -> what happened (Markdown)


def reveal_panel(challenge: Challenge, store: Store) -> RevealPanel:
    """Build the panel inside the current Blocks context; the caller wires ``button`` (it also re-renders the
    board)."""
    with gr.Accordion("Organisers: reveal the hidden test", open=False, elem_id=f"{challenge.id}-reveal"):
        gr.Markdown(REVEAL_HELP)
        with gr.Row():
            token = gr.Textbox(label="Organiser token", type="password", elem_id=f"{challenge.id}-reveal-token")
            button = gr.Button("Reveal the hidden test", variant="stop", elem_id=f"{challenge.id}-reveal-button")
        outcome = gr.Markdown(elem_id=f"{challenge.id}-reveal-outcome")
    return RevealPanel(token, button, outcome, lambda typed: reveal_hidden_test(store, challenge, typed))
