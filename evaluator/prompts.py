"""Prompt builders of the official FlowerTune evaluation scripts (DESIGN.md section 3)."""

from __future__ import annotations

from collections.abc import Sequence

MMLU_INSTRUCTION = "Answer the following multiple choice question."
# Meditron's per-dataset instructions, as the FlowerTune medical evaluation uses them (CareQA
# reuses MedMCQA's). MedQA says "A to E" although the 4-option variant is evaluated: verbatim.
MEDICAL_INSTRUCTIONS = {
    "pubmedqa": (
        "As an expert doctor in clinical science and medical knowledge, can you tell me if the "
        "following statement is correct? Answer yes, no, or maybe."
    ),
    "medqa": (
        "You are a medical doctor taking the US Medical Licensing Examination. You need to "
        "demonstrate your understanding of basic and clinical science, medical knowledge, and "
        "mechanisms underlying health, disease, patient care, and modes of therapy. Show your "
        "ability to apply the knowledge essential for medical practice. For the following "
        "multiple-choice question, select one correct answer from A to E. Base your answer on the "
        "current and standard practices referenced in medical guidelines."
    ),
    "medmcqa": (
        "You are a medical doctor answering realworld medical entrance exam questions. Based on "
        "your understanding of basic and clinical science, medical knowledge, and mechanisms "
        "underlying health, disease, patient care, and modes of therapy, answer the following "
        "multiple-choice question. Select one correct answer from A to D. Base your answer on the "
        "current and standard practices referenced in medical guidelines."
    ),
}
MEDICAL_INSTRUCTIONS["careqa"] = MEDICAL_INSTRUCTIONS["medmcqa"]
FINANCE_INSTRUCTION = (
    "What is the sentiment of this {kind}? Please choose an answer from {{negative/neutral/positive}}."
)


def format_mcq(question: str, options: Sequence[str]) -> str:
    """``Question: ...`` + lettered options; ``?`` appended unless the question ends in ? or ."""
    if not question.endswith("?") and not question.endswith("."):
        question += "?"
    lines = "\n".join(f"{chr(65 + i)}. {option}" for i, option in enumerate(options))
    return f"Question: {question}\n\nOptions:\n{lines}"


def with_instruction(instruction: str, body: str) -> str:
    return f"{instruction}\n{body}\nThe answer is:\n"


def chat_wrap(prompt: str) -> str:
    """The question/answer wrapper every General NLP and Medical prompt is sent in."""
    return f"<|im_start|>question\n{prompt}<|im_end|>\n<|im_start|>answer\n"


def mcq_prompt(instruction: str, question: str, options: Sequence[str]) -> str:
    return chat_wrap(with_instruction(instruction, format_mcq(question, options)))


def pubmedqa_prompt(contexts: Sequence[str], question: str) -> str:
    body = "\n".join(contexts) + f"\n{question}"
    return chat_wrap(with_instruction(MEDICAL_INSTRUCTIONS["pubmedqa"], body))


def finance_prompt(text: str, kind: str = "news") -> str:
    """``kind`` is ``news`` or ``tweet``. The input line is left out for an empty text, as upstream."""
    prompt = f"Instruction: {FINANCE_INSTRUCTION.format(kind=kind)}\n"
    if text:
        prompt += f"Input: {text}\n"
    return prompt + "Answer: "
