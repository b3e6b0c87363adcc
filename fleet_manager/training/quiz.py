"""Grading a quiz attempt (pure). An unanswered question counts as wrong."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from fleet_manager.training.modules import TrainingModule


@dataclass(frozen=True)
class QuizResult:
    correct: int
    total: int
    passed: bool
    wrong: tuple[str, ...]  # question ids answered wrongly or not at all


def needed_to_pass(module: TrainingModule) -> int:
    """Right answers needed: the pass mark of the questions, rounded up."""
    return math.ceil(module.pass_mark * len(module.quiz) - 1e-9)


def grade(module: TrainingModule, answers: Mapping[str, int | None]) -> QuizResult:
    wrong = tuple(q.id for q in module.quiz if answers.get(q.id) != q.answer)
    correct = len(module.quiz) - len(wrong)
    return QuizResult(correct, len(module.quiz), correct >= needed_to_pass(module), wrong)
