"""The training modules and requirement rules this process serves, loaded once.

A broken module or rules file is a deployment error: the console's training pages load both
when the app is built, so the process does not start with them broken.
"""

from __future__ import annotations

from functools import lru_cache

from fleet_manager.training.modules import TrainingModule, load_modules
from fleet_manager.training.rules import Rule, load_rules


@lru_cache(maxsize=1)
def modules() -> tuple[TrainingModule, ...]:
    return load_modules()


@lru_cache(maxsize=1)
def rules() -> tuple[Rule, ...]:
    return load_rules()


def module(module_id: str) -> TrainingModule | None:
    return next((m for m in modules() if m.id == module_id), None)


def body_blocks(text: str) -> list[tuple[str, list[str]]]:
    """A section body as blocks (pure): ("p", [paragraph]) or ("ul", [items]); paragraphs are
    separated by a blank line, consecutive "- " lines make one list."""
    blocks: list[tuple[str, list[str]]] = []
    for chunk in text.replace("\r\n", "\n").split("\n\n"):
        lines = [line.strip() for line in chunk.strip().split("\n") if line.strip()]
        paragraph: list[str] = []
        for line in lines:
            if line.startswith("- "):
                if paragraph:
                    blocks.append(("p", [" ".join(paragraph)]))
                    paragraph = []
                if blocks and blocks[-1][0] == "ul" and not paragraph:
                    blocks[-1][1].append(line[2:])
                else:
                    blocks.append(("ul", [line[2:]]))
            else:
                paragraph.append(line)
        if paragraph:
            blocks.append(("p", [" ".join(paragraph)]))
    return blocks
