"""Hypothesis strategies that write queries from the grammar in the spec, and near-misses."""

from __future__ import annotations

import random

from hypothesis import strategies as st

WS = st.sampled_from(["", "", "", " ", " ", "  ", "\t", "\n", "\r\n"])
IDENT = st.sampled_from(["x", "a1", "_", "n", "tolerance", "X_9", "0", "pull_data"])
STRING_CHARS = st.sampled_from(
    ["", "a", "data", "x y", "19", "it's", 'say "hi"', "é☃😀", "a\tb\nc", "&& ||", "(!=)"]
)
BOOLEANS = st.sampled_from(["true", "TRUE", "True", "false", "FALSE", "False"])
VALID_OPS = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
ANY_OPS = st.sampled_from(
    ["==", "!=", "<", "<=", ">", ">=", "=", "!", "=!", "<>", "=<", "=>", "!!", "<<", ">>", "><"]
)


@st.composite
def strings(draw: st.DrawFn) -> str:
    quote = draw(st.sampled_from(['"', "'"]))
    body = draw(STRING_CHARS).replace(quote, "")
    return f"{quote}{body}{quote}"


@st.composite
def numbers(draw: st.DrawFn) -> str:
    sign = draw(st.sampled_from(["", "", "-", "+"]))
    integer = draw(st.sampled_from(["0", "1", "2", "10", "42", "12345"]))
    fraction = draw(st.sampled_from(["", "", ".", ".5", ".25", ".001"]))
    exponent = draw(st.sampled_from(["", "", "", "e3", "E-2", "e+10", "e0", "e400"]))
    return sign + integer + fraction + exponent


@st.composite
def lookups(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["id", "name", "parameter:", "this:", "environment:"]))
    if kind.endswith(":"):
        return kind + draw(st.sampled_from(["", "", " "])) + draw(IDENT)
    return kind


VALUES = st.one_of(lookups(), strings(), BOOLEANS, numbers())


@st.composite
def tests(draw: st.DrawFn, ops: st.SearchStrategy[str] = VALID_OPS) -> str:
    return draw(VALUES) + draw(WS) + draw(ops) + draw(WS) + draw(VALUES)


def _primaries(body: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    @st.composite
    def wrapped(draw: st.DrawFn) -> str:
        form = draw(st.sampled_from(["brackets", "latest", "single", "latest()"]))
        if form == "latest()":
            return "latest" + draw(WS) + "()"
        inner = draw(WS) + draw(body) + draw(WS)
        if form == "brackets":
            return f"({inner})"
        return f"{form}{draw(WS)}({inner})"

    return wrapped()


def _bodies(primary: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    @st.composite
    def body(draw: st.DrawFn) -> str:
        count = draw(st.integers(min_value=1, max_value=4))
        parts = []
        for index in range(count):
            if index:
                parts.append(draw(WS) + draw(st.sampled_from(["&&", "||"])) + draw(WS))
            negate = draw(st.booleans()) and draw(st.booleans())
            parts.append(("!" + draw(WS) if negate else "") + draw(primary))
        return "".join(parts)

    return body()


def bodies(ops: st.SearchStrategy[str] = VALID_OPS) -> st.SearchStrategy[str]:
    return st.recursive(
        _bodies(tests(ops)),
        lambda inner: _bodies(st.one_of(tests(ops), _primaries(inner))),
        max_leaves=6,
    )


@st.composite
def queries(draw: st.DrawFn, ops: st.SearchStrategy[str] = VALID_OPS) -> str:
    """A query the reference accepts (with VALID_OPS), written with varied spacing."""
    toplevel = draw(st.one_of(bodies(ops), bodies(ops), st.just("latest"), strings()))
    return draw(WS) + toplevel + draw(WS)


NEAR_MISS_CHARS = st.sampled_from([*"()\"'!=<>&|\\ .e+-0123_aAx:,{}\t\n", "latest", "&&"])


@st.composite
def near_misses(draw: st.DrawFn) -> str:
    """A valid query with one to three small edits: most are invalid, some stay valid."""
    text = draw(queries(ANY_OPS))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        edit = draw(st.sampled_from(["delete", "insert", "replace", "truncate", "duplicate"]))
        pos = draw(st.integers(min_value=0, max_value=len(text)))
        if edit == "delete" and text:
            pos = min(pos, len(text) - 1)
            text = text[:pos] + text[pos + 1 :]
        elif edit == "insert":
            text = text[:pos] + draw(NEAR_MISS_CHARS) + text[pos:]
        elif edit == "replace" and text:
            pos = min(pos, len(text) - 1)
            text = text[:pos] + draw(NEAR_MISS_CHARS) + text[pos + 1 :]
        elif edit == "truncate":
            text = text[:pos]
        elif edit == "duplicate":
            end = draw(st.integers(min_value=pos, max_value=len(text)))
            text = text[:end] + text[pos:end] + text[end:]
    return text


class QueryWriter:
    """The same grammar driven by a `random.Random`: cheap enough for thousands of queries.

    Hypothesis supplies the Random (`st.randoms()`), so failures are reproducible.
    """

    _WS = ("", "", "", " ", " ", "  ", "\t", "\n", "\r\n")
    _IDENTS = ("x", "a1", "_", "n", "tolerance", "X_9", "0", "pull_data")
    _STRINGS = ("", "a", "data", "x y", "19", "it's", 'say "hi"', "é☃😀", "a\tb", "&& ||")
    _BOOLEANS = ("true", "TRUE", "True", "false", "FALSE", "False")
    _OPS = ("==", "!=", "<", "<=", ">", ">=")
    _BAD_OPS = ("=", "!", "=!", "<>", "=<", "=>", "!!", "<<", ">>", "><")
    _EDITS = ("delete", "insert", "replace", "truncate", "duplicate")
    _CHARS = (*"()\"'!=<>&|\\ .e+-0123_aAx:,\t\n", "latest", "&&", "single(", "id")

    def __init__(self, rng: random.Random, bad_ops: bool = False) -> None:
        self.rng = rng
        self.bad_ops = bad_ops

    def ws(self) -> str:
        return self.rng.choice(self._WS)

    def string(self) -> str:
        quote = self.rng.choice("\"'")
        return quote + self.rng.choice(self._STRINGS).replace(quote, "") + quote

    def number(self) -> str:
        choice = self.rng.choice
        return (
            choice(("", "", "-", "+"))
            + choice(("0", "1", "2", "10", "42", "12345"))
            + choice(("", "", ".", ".5", ".25", ".001"))
            + choice(("", "", "", "e3", "E-2", "e+10", "e0", "e400"))
        )

    def value(self) -> str:
        kind = self.rng.randrange(8)
        if kind == 0:
            return "id"
        if kind == 1:
            return "name"
        if kind <= 3:
            prefix = self.rng.choice(("parameter:", "parameter:", "this:", "environment:"))
            return prefix + self.rng.choice(("", "", " ")) + self.rng.choice(self._IDENTS)
        if kind == 4:
            return self.string()
        if kind == 5:
            return self.rng.choice(self._BOOLEANS)
        return self.number()

    def test(self) -> str:
        ops = self._OPS + self._BAD_OPS if self.bad_ops and self.rng.random() < 0.2 else self._OPS
        op = self.rng.choice(ops)
        return self.value() + self.ws() + op + self.ws() + self.value()

    def primary(self, depth: int) -> str:
        form = self.rng.randrange(8) if depth < 3 else 0
        if form <= 3:
            return self.test()
        if form == 4:
            return "latest" + self.ws() + "()"
        inner = self.ws() + self.body(depth + 1) + self.ws()
        if form == 5:
            return f"({inner})"
        return self.rng.choice(("latest", "single")) + self.ws() + f"({inner})"

    def body(self, depth: int = 0) -> str:
        parts = []
        for index in range(self.rng.randint(1, 4 if depth < 2 else 2)):
            if index:
                parts.append(self.ws() + self.rng.choice(("&&", "||")) + self.ws())
            if self.rng.random() < 0.25:
                parts.append("!" + self.ws())
            parts.append(self.primary(depth))
        return "".join(parts)

    def query(self) -> str:
        kind = self.rng.randrange(10)
        toplevel = "latest" if kind == 0 else self.string() if kind == 1 else self.body()
        return self.ws() + toplevel + self.ws()

    def near_miss(self) -> str:
        text = self.query()
        for _ in range(self.rng.randint(1, 3)):
            edit = self.rng.choice(self._EDITS)
            pos = self.rng.randint(0, len(text))
            if edit == "delete":
                text = text[:pos] + text[pos + 1 :]
            elif edit == "insert":
                text = text[:pos] + self.rng.choice(self._CHARS) + text[pos:]
            elif edit == "replace":
                text = text[:pos] + self.rng.choice(self._CHARS) + text[pos + 1 :]
            elif edit == "truncate":
                text = text[:pos]
            else:
                end = self.rng.randint(pos, len(text))
                text = text[:end] + text[pos:end] + text[end:]
        return text
