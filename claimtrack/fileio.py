"""Reading and writing the store's files: readable YAML that rewrites keep as people left it, atomic replacement,
and an advisory lock."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import io
import os
import secrets
import stat
import time
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import yaml

from claimtrack.errors import Busy, InvalidInput


class _Dumper(yaml.SafeDumper):
    """Block style, keys in model order, multi-line text as literal blocks: diffs read like prose."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)


def read_text(path: Path) -> str:
    """A user's text file, or InvalidInput naming it: missing, unreadable and non-UTF-8 files alike."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(path, "-", f"cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(path, "-", "not UTF-8 text") from exc


def load_yaml(path: Path) -> Any:
    """Parse one YAML file; a syntax error names the file and the line."""
    text = read_text(path)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _malformed(path, exc) from exc


def _malformed(path: Path, exc: Exception) -> InvalidInput:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}" if mark else "-"
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return InvalidInput(path, where, f"malformed YAML: {problem}")


def write_yaml(path: Path, data: dict[str, Any]) -> None:
    """Write plain `data` to `path` as YAML, keeping what a curator put in the file that is there.

    A new file is laid out as `dump_yaml` lays it out, in `data`'s key order. An existing file is read
    round-trip and `data` merged into that tree (`_merge`), so its comments, key order and quoting survive
    wherever the values did not change, and a rewrite that changes nothing gives the same bytes.
    """
    from ruamel.yaml.error import YAMLError

    round_trip = _round_trip()
    try:
        tree = round_trip.load(read_text(path)) if path.exists() else None
    except YAMLError as exc:
        raise _malformed(path, exc) from exc
    out = io.StringIO()
    round_trip.dump(_merge(tree, data), out)
    atomic_write(path, out.getvalue())


def _merge(old: Any, new: Any) -> Any:
    """`new` (plain data) as a round-trip tree that reuses `old` (the file's tree) wherever it can.

    Why: a curator's comments, key order and quoting live only in `old`; a file rebuilt from `new` would
    lose them. Contract: the result reads back (with PyYAML) as `new`. A value equal to the old one is kept
    as it was, comments and style included; a changed scalar is replaced and styled as a new one; mappings
    are merged in place (removed keys deleted, a new key placed after the key that precedes it in `new`)
    and lists by position (evidence and history only grow at the end); an empty or mismatched container is
    replaced. ruamel hangs the whole-line comments between two entries on the last scalar before them, so
    when entries come or go those comments are moved to keep their place: the ones after a container stay
    after it, the ones after a removed entry stay before the entry that followed it.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(old, CommentedMap) and isinstance(new, dict) and old and new:
        tail = _take_tail(old, next(reversed(old)))
        for key in [key for key in old if key not in new]:
            _drop(old, key)
        previous = None
        for key, value in new.items():
            if key in old:
                _update(old, key, value)
            else:
                old.insert(0 if previous is None else list(old).index(previous) + 1, key, _fresh(value))
                if previous is not None:
                    _give_tail(old, key, _take_tail(old, previous))
            previous = key
        _give_tail(old, next(reversed(old)), tail)
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, list) and old and new:
        tail = _take_tail(old, len(old) - 1)
        del old[len(new) :]
        for index, value in enumerate(new):
            if index < len(old):
                _update(old, index, value)
            else:
                old.append(_fresh(value))
        _give_tail(old, len(old) - 1, tail)
        return old
    unchanged = old == new and isinstance(old, bool) == isinstance(new, bool)  # scalars, empty containers
    return old if unchanged else _fresh(new)


def _update(container: Any, key: Any, value: Any) -> None:
    current = container[key]
    merged = _merge(current, value)
    if merged is not current:
        tail = _take_tail(container, key)
        # Plain assignment would give a new string the old one's quoting style; a changed value is styled anew.
        (list if isinstance(container, list) else OrderedDict).__setitem__(container, key, merged)
        _give_tail(container, key, tail)


def _drop(mapping: Any, key: Any) -> None:
    keys = list(mapping)
    at = keys.index(key)
    tail = _take_tail(mapping, key)
    entry = mapping.ca.items.pop(key, None)  # its end-of-line comment goes with it
    # Comments above it (ruamel keeps them on the key after a flow value) and after it meet where it was:
    # they go after the entry before it, or after the next one when it was first.
    above = "".join(token.value for token in (entry[1] or []) if token) if entry else ""
    del mapping[key]
    if above + tail:
        _give_tail(mapping, keys[at - 1] if at else keys[1], above + tail)


def _fresh(value: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict):
        return CommentedMap((key, _fresh(item)) for key, item in value.items())
    if isinstance(value, list):
        return CommentedSeq(_fresh(item) for item in value)
    return value


def _leaf(container: Any, key: Any) -> tuple[Any, Any, int]:
    """Where the comments that follow container[key] hang: the slot of the last scalar in its block."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    value = container[key]
    while isinstance(value, CommentedMap | CommentedSeq) and value and not value.fa.flow_style():
        container, key = value, len(value) - 1 if isinstance(value, list) else next(reversed(value))
        value = container[key]
    return container, key, 0 if isinstance(container, list) else 2


def _take_tail(container: Any, key: Any) -> str:
    """Detach and return the whole-line comments after container[key], leaving its end-of-line comment."""
    holder, key, slot = _leaf(container, key)
    entry = holder.ca.items.get(key)
    token = entry[slot] if entry else None
    if token is None:
        return ""
    if _block(holder[key]):  # a block scalar ends its own line: every comment after it is a whole line
        entry[slot] = None
        return token.value
    eol, _, tail = token.value.partition("\n")
    token.value = eol + "\n"
    return tail


def _give_tail(container: Any, key: Any, tail: str) -> None:
    if not tail:
        return
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    holder, key, slot = _leaf(container, key)
    entry = holder.ca.items.setdefault(key, [None, None, None, None])
    if entry[slot] is not None:
        entry[slot].value += tail
    else:
        entry[slot] = CommentToken(tail if _block(holder[key]) else "\n" + tail, CommentMark(0))


def _block(value: Any) -> bool:
    """Whether `value` is written as a | or > block (a new text with a line break is a literal block)."""
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

    return isinstance(value, LiteralScalarString | FoldedScalarString) or (type(value) is str and "\n" in value)


@functools.cache
def _round_trip() -> Any:
    """ruamel.yaml set up to write what `dump_yaml` writes, so a file written before reads back byte for byte.

    Imported here, not at the top: only writers pay for it. Four departures from ruamel's defaults make its
    output PyYAML's: PyYAML's rules for plain scalars (ruamel's YAML 1.2 writes `yes` and `1e-05` bare, which
    PyYAML reads as a boolean and as text), floats with a dot, PyYAML's line folding of long plain text, and
    single quotes where PyYAML chooses them.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.emitter import RoundTripEmitter
    from ruamel.yaml.representer import RoundTripRepresenter
    from ruamel.yaml.resolver import VersionedResolver

    class Resolver(VersionedResolver):
        # PyYAML's own rules for plain scalars, so what this writer leaves unquoted PyYAML reads as meant.
        versioned_resolver: ClassVar[dict[Any, list[Any]]] = {
            first: list(rules) for first, rules in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
        }

    class Representer(RoundTripRepresenter):
        def represent_str(self, data: str) -> Any:
            return self.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)

        def represent_float(self, data: float) -> Any:
            node = super().represent_float(data)
            if "." not in node.value and "e" in node.value:
                node.value = node.value.replace("e", ".0e", 1)
            return node

    Representer.add_representer(str, Representer.represent_str)
    Representer.add_representer(float, Representer.represent_float)

    class Emitter(RoundTripEmitter):
        def choose_scalar_style(self) -> Any:
            style = super().choose_scalar_style()
            # ruamel double-quotes text with a ' in it; PyYAML single-quotes whatever it can.
            if style == '"' and not self.event.style and self.analysis.allow_single_quoted:
                return "'" if not (self.simple_key_context and self.analysis.multiline) else style
            return style

        def write_plain(self, text: Any, split: Any = True) -> None:
            # PyYAML's folding: break at the first space past the width (ruamel breaks before a long word).
            if self.root_context:
                self.open_ended = True
            if not text:
                return
            if not self.whitespace:
                self.column += 1
                self.stream.write(" ")
            self.whitespace = self.indention = False
            spaces = breaks = False
            start = end = 0
            while end <= len(text):
                ch = text[end] if end < len(text) else None
                if spaces:
                    if ch != " ":
                        if start + 1 == end and self.column > self.best_width and split:
                            self.write_indent()
                            self.whitespace = self.indention = False
                        else:
                            self.column += end - start
                            self.stream.write(text[start:end])
                        start = end
                elif breaks:
                    if ch is None or ch not in "\n\x85\u2028\u2029":
                        if text[start] == "\n":
                            self.write_line_break()
                        for br in text[start:end]:
                            self.write_line_break(None if br == "\n" else br)
                        self.write_indent()
                        self.whitespace = self.indention = False
                        start = end
                elif ch is None or ch in " \n\x85\u2028\u2029":
                    self.column += end - start
                    self.stream.write(text[start:end])
                    start = end
                if ch is not None:
                    spaces, breaks = ch == " ", ch in "\n\x85\u2028\u2029"
                end += 1

    round_trip = YAML()
    round_trip.Resolver, round_trip.Representer, round_trip.Emitter = Resolver, Representer, Emitter
    round_trip.width = 110
    round_trip.indent(mapping=2, sequence=2, offset=0)
    round_trip.preserve_quotes = True
    round_trip.allow_duplicate_keys = True  # PyYAML accepts them too; the merge writes the key once
    return round_trip


def atomic_write(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a crash leaves the old file or the new one, never half of either.

    The new file keeps the old one's permissions (a curator's 644 stays 644); a file that did not exist gets
    what a plain open() would give, 0o666 less the umask. (mkstemp's 600 would hide every rewrite from the
    group.) The temporary file is opened with O_EXCL under a random name, so nothing is ever clobbered.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            with contextlib.suppress(FileNotFoundError):
                os.fchmod(handle.fileno(), stat.S_IMODE(os.stat(path).st_mode))
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def file_lock(path: Path, *, wait: float = 30.0, holder: str = "another claimtrack process") -> Iterator[None]:
    """Hold an exclusive advisory lock on `path`, waiting up to `wait` seconds, else raise Busy.

    The lock dies with its process, so a killed writer never leaves the store locked.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    owner = os.pread(fd, 200, 0).decode(errors="replace").strip()
                    detail = f" ({owner})" if owner else ""
                    raise Busy(f"{holder} holds {path}{detail}; waited {wait:.0f}s") from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        yield
    finally:
        os.close(fd)
