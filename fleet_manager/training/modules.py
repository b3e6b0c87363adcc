"""Training modules: the content staff complete in the console (loaded and checked, pure apart
from reading files).

A module is a folder under ``content/training/modules/{id}/``::

    module.toml      structure: sections, quiz, pass mark, hours, sources; texts are msgids
    po/en.po         one gettext catalog per language (domain "training"), like signage
    po/es.po

Loading checks everything and lists every problem at once (file and field named): unknown or
missing keys, ids, the quiz (at least one question, each with 2-6 choices and a valid answer),
and that every msgid has a translation in every language of the module.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from content.catalogs import read_messages

MODULES = Path(__file__).resolve().parents[2] / "content" / "training" / "modules"
_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_TOP_KEYS = {
    "id",
    "order",
    "version",
    "title",
    "summary",
    "provider",
    "hours",
    "pass_mark",
    "languages",
    "sections",
    "quiz",
    "sources",
}


class ModuleError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Section:
    id: str
    title: str  # msgid
    body: str  # msgid; paragraphs separated by a blank line, "- " lines are a list


@dataclass(frozen=True)
class Question:
    id: str
    question: str  # msgid
    choices: tuple[str, ...]  # msgids
    answer: int  # index of the right choice
    explanation: str  # msgid


@dataclass(frozen=True)
class Source:
    title: str  # as published (not translated)
    url: str


@dataclass(frozen=True)
class TrainingModule:
    id: str
    order: int  # where it stands in the list of modules
    version: str
    title: str  # msgid
    summary: str  # msgid
    provider: str  # who provides the course (on the certificate)
    hours: float  # credit hours on the certificate
    pass_mark: float  # fraction of the quiz to answer right, 0 < pass_mark <= 1
    languages: tuple[str, ...]
    sections: tuple[Section, ...]
    quiz: tuple[Question, ...]
    sources: tuple[Source, ...]
    texts: dict[str, dict[str, str]]  # language → msgid → text

    def text(self, lang: str, msgid: str) -> str:
        return self.texts[lang if lang in self.texts else self.languages[0]][msgid]

    def section(self, section_id: str) -> Section | None:
        return next((s for s in self.sections if s.id == section_id), None)

    @property
    def msgids(self) -> list[str]:
        ids = [self.title, self.summary]
        for s in self.sections:
            ids += [s.title, s.body]
        for q in self.quiz:
            ids += [q.question, *q.choices, q.explanation]
        return ids


def _tables(raw: dict[str, Any], key: str, where: str, problems: list[str]) -> list[Any]:
    """The entries of an array of tables (``[[key]]``), or none with a problem noted."""
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        problems.append(f"{where}: {key!r} must be an array of tables ([[{key}]])")
        return []
    return value


def _get(table: dict[str, Any], key: str, kind: type, where: str, problems: list[str]) -> Any:
    value = table.get(key)
    if not isinstance(value, kind) or (kind is str and not value):
        problems.append(f"{where}: {key!r} must be a non-empty {kind.__name__}")
        return kind()
    return value


def load_module(folder: Path) -> TrainingModule:
    """The module in ``folder``, or :class:`ModuleError` listing every problem."""
    path = folder / "module.toml"
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ModuleError([f"{path}: cannot be read ({exc})"]) from None
    problems: list[str] = []
    where = str(path)
    for key in sorted(set(raw) - _TOP_KEYS):
        problems.append(f"{where}: unknown key {key!r}")
    module_id = _get(raw, "id", str, where, problems)
    if module_id and (not _ID.fullmatch(module_id) or module_id != folder.name):
        problems.append(f"{where}: id {module_id!r} must be the folder's name, a-z 0-9 -")
    hours = raw.get("hours")
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 40:
        problems.append(f"{where}: 'hours' must be a number of hours, more than 0")
        hours = 0.0
    pass_mark = raw.get("pass_mark")
    if (
        isinstance(pass_mark, bool)
        or not isinstance(pass_mark, int | float)
        or not 0 < pass_mark <= 1
    ):
        problems.append(f"{where}: 'pass_mark' must be a fraction, more than 0, at most 1")
        pass_mark = 1.0
    languages = raw.get("languages")
    if (
        not isinstance(languages, list)
        or not languages
        or not all(isinstance(x, str) for x in languages)
    ):
        problems.append(f"{where}: 'languages' must list language codes")
        languages = []
    sections = []
    for i, s in enumerate(_tables(raw, "sections", where, problems)):
        at = f"{where}: sections[{i}]"
        sections.append(
            Section(
                _get(s, "id", str, at, problems),
                _get(s, "title", str, at, problems),
                _get(s, "body", str, at, problems),
            )
        )
    if not sections:
        problems.append(f"{where}: a module needs at least one section")
    quiz = []
    for i, q in enumerate(_tables(raw, "quiz", where, problems)):
        at = f"{where}: quiz[{i}]"
        choices = q.get("choices")
        if not isinstance(choices, list) or not 2 <= len(choices) <= 6:
            problems.append(f"{at}: 'choices' must list 2 to 6 msgids")
            choices = []
        answer = q.get("answer")
        if (
            isinstance(answer, bool)
            or not isinstance(answer, int)
            or not 0 <= answer < max(len(choices), 1)
        ):
            problems.append(f"{at}: 'answer' must be the index of one of the choices")
            answer = 0
        quiz.append(
            Question(
                _get(q, "id", str, at, problems),
                _get(q, "question", str, at, problems),
                tuple(str(c) for c in choices),
                answer,
                _get(q, "explanation", str, at, problems),
            )
        )
    if not quiz:
        problems.append(f"{where}: a module needs a quiz of at least one question")
    for kind, items in (("section", sections), ("question", quiz)):
        ids = [x.id for x in items]
        for dup in sorted({x for x in ids if ids.count(x) > 1}):
            problems.append(f"{where}: {kind} id {dup!r} is used twice")
    sources = []
    for i, s in enumerate(_tables(raw, "sources", where, problems)):
        at = f"{where}: sources[{i}]"
        url = _get(s, "url", str, at, problems)
        if url and not url.startswith("https://"):
            problems.append(f"{at}: 'url' must be an https:// address")
        sources.append(Source(_get(s, "title", str, at, problems), url))
    if not sources:
        problems.append(f"{where}: cite the public sources the module is written from")
    order = raw.get("order")
    if not isinstance(order, int):
        problems.append(f"{where}: 'order' must be a whole number (the module's place)")
        order = 0
    module = TrainingModule(
        id=module_id,
        order=order,
        version=_get(raw, "version", str, where, problems),
        title=_get(raw, "title", str, where, problems),
        summary=_get(raw, "summary", str, where, problems),
        provider=_get(raw, "provider", str, where, problems),
        hours=float(hours),
        pass_mark=float(pass_mark),
        languages=tuple(languages),
        sections=tuple(sections),
        quiz=tuple(quiz),
        sources=tuple(sources),
        texts={},
    )
    for lang in module.languages:
        po = folder / "po" / f"{lang}.po"
        found, read_problems = read_messages(po)
        problems += read_problems
        if not read_problems:
            for msgid in module.msgids:
                if not found.get(msgid) or found[msgid] == msgid:
                    problems.append(f"{po}: {msgid!r} is not translated")
        module.texts[lang] = found
    if problems:
        raise ModuleError(problems)
    return module


def load_modules(folder: Path = MODULES) -> tuple[TrainingModule, ...]:
    """Every module under ``folder``, in folder order; every problem of every module at once."""
    if not folder.is_dir():
        raise ModuleError([f"{folder}: no such folder of training modules"])
    modules, problems = [], []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        try:
            modules.append(load_module(sub))
        except ModuleError as exc:
            problems += exc.problems
    if problems:
        raise ModuleError(problems)
    return tuple(sorted(modules, key=lambda m: (m.order, m.id)))
