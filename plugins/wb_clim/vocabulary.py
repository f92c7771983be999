"""Class vocabularies: checked class names, prompts, and which class an annotated object's label names."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

from workbench.api import UserError


def check_template(template: str) -> str:
    if template.count("{}") != 1:
        raise UserError(f"prompt template {template!r} must contain '{{}}' exactly once (where the class name goes)")
    return template


def check_classes(classes: Sequence[str]) -> list[str]:
    """Stripped class names; an empty vocabulary, an empty name or duplicate names are errors that name them."""
    names = [str(c).strip() for c in classes]
    if not names:
        raise UserError("the vocabulary is empty: give at least one class name")
    empty = [i for i, n in enumerate(names) if not n]
    if empty:
        raise UserError(f"class name {empty[0]} of the vocabulary is empty")
    seen: dict[str, int] = {}
    duplicates = []
    for i, name in enumerate(names):
        key = " ".join(name.lower().split())
        if key in seen:
            duplicates.append(f"{name!r} (classes {seen[key]} and {i})")
        else:
            seen[key] = i
    if duplicates:
        raise UserError(f"duplicate class names in the vocabulary: {', '.join(duplicates)}; each class must be "
                        "named once")
    return names


def prompts(classes: Sequence[str], template: str) -> list[str]:
    check_template(template)
    return [template.replace("{}", name) for name in classes]


def attribute_vocabulary(vocabulary: Mapping[str, Sequence[str]], kinds: Sequence[str] = ("colour", "shape")
                         ) -> list[str]:
    """Class names that combine a world's attribute words, e.g. colour x shape: ``red circle``, ``red square``..."""
    missing = [k for k in kinds if k not in vocabulary]
    if missing:
        raise UserError(f"the sample's vocabulary has no {', '.join(missing)} (it has {', '.join(vocabulary)})")
    return [" ".join(words) for words in itertools.product(*(vocabulary[k] for k in kinds))]


def truth_index(label: str | None, classes: Sequence[str]) -> int | None:
    """The class an object label names: the longest class name the label equals or ends with (whole words, case
    insensitive), so ``small red star`` is ``red star``; None when no class fits."""
    if not label:
        return None
    words = label.lower().split()
    best, best_len = None, 0
    for i, name in enumerate(classes):
        parts = name.lower().split()
        if parts and words[-len(parts):] == parts and len(parts) > best_len:
            best, best_len = i, len(parts)
    return best
