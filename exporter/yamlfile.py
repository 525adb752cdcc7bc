"""Read a YAML file into plain data with bounded cost, whatever the file holds; ConfigError.

A 353-byte "billion laughs" document (anchors whose aliases nest nine deep) expands to
hundreds of millions of values once walked, and a 49 MB list takes minutes and gigabytes
to parse; either would stall `check-config` and kill a live reload with MemoryError. So
the file is read only up to MAX_DOCUMENT_BYTES, and while PyYAML composes the document
every value is counted as often as aliases repeat it: past MAX_DOCUMENT_VALUES, or nested
deeper than MAX_DOCUMENT_DEPTH, loading stops with a ConfigError long before memory grows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Hashable
from typing import Any

import yaml

from exporter.files import MiB, RefusedFile, read_regular_file

MAX_DOCUMENT_BYTES = 4 * MiB
MAX_DOCUMENT_VALUES = 100_000
MAX_DOCUMENT_DEPTH = 64
_MERGE_TAG = "tag:yaml.org,2002:merge"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_WORD_TAG = "tag:mlmon:yaml11-bool-word"
_NUMBER_TAG = "tag:mlmon:yaml12-exponent-number"


class ConfigError(ValueError):
    """A config problem; the message starts with the key path so the user can find it."""

    def __init__(self, path: str, reason: str | None = None) -> None:
        # ConfigError("models[0].x: message") also works, for callers with a ready-made message.
        if reason is None:
            path, _, reason = path.partition(": ")
        super().__init__(f"{path}: {reason}" if reason else path)
        self.path = path
        self.reason = reason


class DocumentTooLarge(yaml.YAMLError):
    """A document past one of the limits; the message says which, and where."""


# libyaml's scanner and parser where PyYAML was built with it: the pure-Python ones read
# about 25,000 values a second, so a runaway 2 MiB list took 4-6 s of CPU to reach the
# values limit. The composer stays Python's, which counts every value as it goes.
class _PythonEvents(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """PyYAML's own reader, scanner and parser, where it was built without libyaml."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


_Events: Any
try:  # libyaml's parser, or PyYAML's own where it was built without libyaml
    from yaml._yaml import CParser as _Events
except ImportError:
    _Events = _PythonEvents


class _Base(
    yaml.composer.Composer,
    _Events,  # type: ignore[misc]  # a class chosen at import
    yaml.constructor.SafeConstructor,
    yaml.resolver.Resolver,
):
    """SafeLoader's parts, with libyaml's events when there are."""

    def __init__(self, stream: str) -> None:
        _Events.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)


class _StrictLoader(_Base):
    """SafeLoader that rejects duplicate keys and documents past the size limits.

    `_weights` maps each composed node to the number of values it stands for, aliases
    expanded; `_expanded` is the running total over the document, so an alias bomb is
    caught at the first alias that pushes it past the limit.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._weights: dict[yaml.Node, int] = {}
        self._expanded = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        """Compose one node, counting it (or, for an alias, everything it repeats)."""
        mark = self.peek_event().start_mark
        if self.check_event(yaml.AliasEvent):
            node = super().compose_node(parent, index)
            weight = None if node is None else self._weights.get(node)
            if weight is None:
                raise DocumentTooLarge(
                    f"{_where(mark)}an alias refers to a value that contains it (a recursive alias)"
                )
            self._count(weight, mark)
            return node
        self._depth += 1
        if self._depth > MAX_DOCUMENT_DEPTH:
            raise DocumentTooLarge(
                f"{_where(mark)}values nested more than {MAX_DOCUMENT_DEPTH} deep"
            )
        before = self._expanded
        self._count(1, mark)
        node = super().compose_node(parent, index)
        self._depth -= 1
        if node is not None:
            self._weights[node] = self._expanded - before
        return node

    def _count(self, weight: int, mark: yaml.Mark) -> None:
        self._expanded += weight
        if self._expanded > MAX_DOCUMENT_VALUES:
            raise DocumentTooLarge(
                f"{_where(mark)}more than {MAX_DOCUMENT_VALUES:,} values once aliases are "
                f"expanded (the limit; an alias bomb or a runaway generated file?)"
            )

    def construct_mapping(
        self, node: yaml.MappingNode, deep: bool = False
    ) -> dict[Hashable, object]:
        """Build a mapping after checking its own (not merged-in) scalar keys are distinct."""
        seen: set[object] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


class BoolWord(str):
    """An unquoted yes/no/on/off (any of YAML 1.1's spellings) read by the config loader: the
    text as written, which a class or a category must keep (`allowed: [DE, NO, SE]` names
    Norway, `classes: [yes, no]` two classes), and `flag`, the boolean YAML 1.1 reads, which a
    key that takes true or false still accepts, so `enabled: yes` keeps working."""

    flag: bool

    def __new__(cls, text: str) -> BoolWord:
        """The word, with the boolean it spells in YAML 1.1."""
        word = super().__new__(cls, text)
        word.flag = text.lower() in ("yes", "on")
        return word


class NumberWord(str):
    """A number written with an exponent but no point or sign (1e-05), which YAML 1.1 reads
    as text and YAML 1.2 (and Helm, writing it) as a number: the text as written, and
    `number`, for a key that takes a number."""

    number: float

    def __new__(cls, text: str) -> NumberWord:
        """The text, with the number it spells."""
        word = super().__new__(cls, text)
        word.number = float(text.replace("_", ""))
        return word


class WrittenInt(int):
    """An unquoted integer read by the config loader, with `text` as written: a key that takes
    a number reads the number, one that takes a version or a category the text (`010`, which
    YAML 1.1 reads as the octal 8)."""

    text: str


class WrittenFloat(float):
    """An unquoted float read by the config loader, with `text` as written: a version `2026.10`
    stays 2026.10, not the number's 2026.1 (see WrittenInt)."""

    text: str


class _ConfigLoader(_StrictLoader):
    """_StrictLoader reading booleans as YAML 1.2 does: only true and false (in any of their
    spellings True, TRUE...) are booleans; YAML 1.1's other words become BoolWords."""

    yaml_implicit_resolvers = {  # noqa: RUF012 - PyYAML's table, per class
        first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
        for first, resolvers in _StrictLoader.yaml_implicit_resolvers.items()
    }

    def construct_word(self, node: yaml.ScalarNode) -> BoolWord:
        """The word as written."""
        return BoolWord(str(self.construct_scalar(node)))

    def construct_number(self, node: yaml.ScalarNode) -> NumberWord:
        """The number as written."""
        return NumberWord(str(self.construct_scalar(node)))

    def construct_written(self, node: yaml.ScalarNode) -> WrittenInt | WrittenFloat:
        """The int or float YAML 1.1 reads, with the text written."""
        number = yaml.constructor.SafeConstructor.yaml_constructors[node.tag](self, node)
        value = WrittenInt(number) if isinstance(number, int) else WrittenFloat(number)
        value.text = str(node.value)
        return value


_ConfigLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_ConfigLoader.add_implicit_resolver(
    _WORD_TAG, re.compile(r"^(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$"), list("yYnNoO")
)
_ConfigLoader.add_constructor(_WORD_TAG, _ConfigLoader.construct_word)
# YAML 1.2's floats with an exponent but no point or no sign (1e-05, 1.5e3): Helm's toYaml
# writes small numbers so, and YAML 1.1 read them as text: `threshold: 0.00001` in the
# chart's values crash-looped the pod. Kept as NumberWords: a number where a key takes one,
# the text written where it takes text (a stream key or a class named 1e3).
_ConfigLoader.add_implicit_resolver(
    _NUMBER_TAG,
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+.0123456789"),
)
_ConfigLoader.add_constructor(_NUMBER_TAG, _ConfigLoader.construct_number)
for _tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
    _ConfigLoader.add_constructor(_tag, _ConfigLoader.construct_written)


def _where(mark: yaml.Mark | None) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""


def _tab(text: str, mark: Any) -> str:
    """libyaml does not name the character it refuses; a tab is the usual one."""
    lines = text.splitlines()
    if mark is None or not 0 <= mark.line < len(lines) or "\t" not in lines[mark.line]:
        return ""
    return " (a tab: YAML indents with spaces)"


def parse_yaml(text: str, source: str, words: bool = False) -> object:
    """The YAML document in text; syntax errors and limits become ConfigErrors naming source.

    words: unquoted yes/no/on/off are BoolWords (the config file), not booleans (the web
    config file, in the exporter-toolkit's format, reads them as booleans as Go's YAML does).
    """
    try:
        return yaml.load(text, Loader=_ConfigLoader if words else _StrictLoader)
    except DocumentTooLarge as exc:
        raise ConfigError(source, f"YAML document refused: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(
            source, f"invalid YAML at {_where(mark)}{problem}{_tab(text, mark)}"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, f"invalid YAML: {exc}") from None


def read_yaml_text(path: str, what: str) -> str:
    """A YAML file's text, read only if it is a regular file of at most MAX_DOCUMENT_BYTES.

    `what` names the file in errors ("config file", "web config file").
    """
    try:
        content = read_regular_file(path, MAX_DOCUMENT_BYTES)
    except OSError as exc:
        raise ConfigError(path, f"cannot read {what}: {exc.strerror or exc}") from None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(path, f"{what} is not valid UTF-8 (byte {exc.start})") from None


def fingerprint(path: str | None) -> object:
    """What the watcher compares: the file's bytes, or its identity and size when the file is
    refused (too large, not a regular file), so a change to such a file is still noticed and
    tried once (and counted as a failed reload). None when it cannot be read at all."""
    if path is None:
        return None
    try:
        return read_regular_file(path, MAX_DOCUMENT_BYTES)
    except RefusedFile:
        try:
            info = os.stat(path)
        except OSError:
            return None
        return (info.st_dev, info.st_ino, info.st_mode, info.st_size, info.st_mtime_ns)
    except OSError:
        return None
