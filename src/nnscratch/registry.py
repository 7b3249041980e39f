"""Named tables of one kind of thing: the one registry idiom of the package.

Activations, losses, optimizers, schedules, lab experiments and tasks are each
a :class:`Registry`: entries are added by name where they are defined, and
looked up by name where a user's choice (a flag, a hyperparameter, a model
file) names one. An unknown name is a ``ValueError`` that lists the choices,
the message scikit-learn's parameter checks and the command line both show::

    ACTIVATIONS = Registry("activation")
    ACTIVATIONS.add(ReLU())                      # under its ``name`` attribute
    OPTIMIZERS.add(Adam, "adam")                 # or under the name given
    ACTIVATIONS.lookup("relu")                   # the entry, or ValueError

A registry is a read-only mapping (``in``, iteration in the order entries were
added, ``len``); ``registry[name]`` raises ``KeyError`` as any mapping does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """Entries of one ``kind`` by name, in the order they were added."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def add(self, entry: T, name: str | None = None) -> T:
        """Add ``entry`` under ``name`` (default: its ``name`` attribute); returns it, so
        ``add`` also serves as a class decorator. A name may be added once."""
        key = name if name is not None else getattr(entry, "name", None)
        if not isinstance(key, str) or not key:
            raise ValueError(f"a {self.kind} needs a name to be registered, got {key!r}")
        if key in self._entries:
            raise ValueError(f"{self.kind} {key!r} is registered already")
        self._entries[key] = entry
        return entry

    def lookup(self, name: str) -> T:
        """The entry called ``name``; ``ValueError`` naming the choices if there is none."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            choices = ", ".join(sorted(self._entries))
            raise ValueError(f"unknown {self.kind} {name!r}; choose from {choices}") from None

    def remove(self, name: str) -> T:
        """Take ``name`` out again (tests that register a toy entry clean up with it)."""
        return self._entries.pop(name)

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"
