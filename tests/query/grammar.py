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


# orderly2's extensions, which the Rust parser rejects: usedby/uses (with a depth, and a
# bare id as argument), subqueries `{...}`, named subqueries `{name}`, an unquoted id.
PACKET_IDS = st.sampled_from(["20230807-152344-ee606dce", "20240101-000000-0123abCD"])
DEPTHS = st.sampled_from(
    ["", "", ", 1", ",2", " , 10.5", ", depth = 2", ", depth=1e1", ", 0", ", -1", ", depth 2"]
)


@st.composite
def _graph_calls(draw: st.DrawFn, body: st.SearchStrategy[str]) -> str:
    function = draw(st.sampled_from(["usedby", "uses"]))
    argument = draw(
        st.one_of(
            body,  # mostly not single-valued: an error the full parser reports
            _primaries(body).map(lambda text: f"latest({text})"),
            strings().map(lambda text: f"id == {text}"),
            strings(),  # the id shortform, allowed here
        )
    )
    inner = draw(WS) + argument + draw(WS) + draw(DEPTHS) + draw(WS)
    return f"{function}{draw(WS)}({inner})"


@st.composite
def _subqueries(draw: st.DrawFn, body: st.SearchStrategy[str]) -> str:
    inner = draw(st.one_of(body, IDENT)) if draw(st.booleans()) else draw(body)
    return "{" + draw(WS) + inner + draw(WS) + "}"


def _primaries(body: st.SearchStrategy[str], extensions: bool = False) -> st.SearchStrategy[str]:
    @st.composite
    def wrapped(draw: st.DrawFn) -> str:
        forms = ["brackets", "latest", "single", "latest()"]
        form = draw(st.sampled_from([*forms, "graph", "subquery"] if extensions else forms))
        if form == "graph":
            return draw(_graph_calls(body))
        if form == "subquery":
            return draw(_subqueries(body))
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


def bodies(
    ops: st.SearchStrategy[str] = VALID_OPS, extensions: bool = False
) -> st.SearchStrategy[str]:
    return st.recursive(
        _bodies(tests(ops)),
        lambda inner: _bodies(st.one_of(tests(ops), _primaries(inner, extensions))),
        max_leaves=6,
    )


@st.composite
def queries(
    draw: st.DrawFn, ops: st.SearchStrategy[str] = VALID_OPS, extensions: bool = False
) -> str:
    """A query the reference accepts (with VALID_OPS and no extensions), written with
    varied spacing. With `extensions`, orderly2's syntax too (some of it invalid: a
    usedby argument that is not single-valued, a depth that is not positive)."""
    tops = [bodies(ops, extensions), bodies(ops, extensions), st.just("latest"), strings()]
    if extensions:
        tops.append(PACKET_IDS)
    return draw(WS) + draw(st.one_of(tops)) + draw(WS)


NEAR_MISS_CHARS = [*"()\"'!=<>&|\\ .e+-0123_aAx:,{}\t\n", "latest", "&&"]
EXTENSION_CHARS = [*NEAR_MISS_CHARS, "usedby(", "uses (", "depth", "=", "{x}", "20230807-"]


@st.composite
def near_misses(draw: st.DrawFn, extensions: bool = False) -> str:
    """A valid query with one to three small edits: most are invalid, some stay valid."""
    text = draw(queries(ANY_OPS, extensions))
    chars = st.sampled_from(EXTENSION_CHARS if extensions else NEAR_MISS_CHARS)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        edit = draw(st.sampled_from(["delete", "insert", "replace", "truncate", "duplicate"]))
        pos = draw(st.integers(min_value=0, max_value=len(text)))
        if edit == "delete" and text:
            pos = min(pos, len(text) - 1)
            text = text[:pos] + text[pos + 1 :]
        elif edit == "insert":
            text = text[:pos] + draw(chars) + text[pos:]
        elif edit == "replace" and text:
            pos = min(pos, len(text) - 1)
            text = text[:pos] + draw(chars) + text[pos + 1 :]
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
    _EXTENSION_CHARS = (*_CHARS, "{", "}", "usedby(", "uses(", "depth", "{x}", "20230807-")
    _IDS = ("20230807-152344-ee606dce", "20240101-000000-0123abCD")
    _DEPTHS = ("", "", ", 1", ",2", " , 10.5", ", depth = 2", ", depth=1e1", ", 0", ", depth 2")

    def __init__(self, rng: random.Random, bad_ops: bool = False, extensions: bool = False) -> None:
        """`extensions`: write orderly2's syntax too (usedby/uses, subqueries, unquoted ids)."""
        self.rng = rng
        self.bad_ops = bad_ops
        self.extensions = extensions
        self.chars = self._EXTENSION_CHARS if extensions else self._CHARS

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

    def graph_call(self, depth: int) -> str:
        kind = self.rng.randrange(4)
        if kind == 0:
            argument = self.string()  # the id shortform
        elif kind == 1:
            argument = "latest(" + self.body(depth + 1) + ")"
        else:
            argument = self.body(depth + 1)  # mostly not single-valued: an error
        inner = self.ws() + argument + self.ws() + self.rng.choice(self._DEPTHS) + self.ws()
        return self.rng.choice(("usedby", "uses")) + self.ws() + f"({inner})"

    def subquery(self, depth: int) -> str:
        inner = self.rng.choice(self._IDENTS) if self.rng.random() < 0.3 else self.body(depth + 1)
        return "{" + self.ws() + inner + self.ws() + "}"

    def primary(self, depth: int) -> str:
        form = self.rng.randrange(10 if self.extensions else 8) if depth < 3 else 0
        if form <= 3:
            return self.test()
        if form == 8:
            return self.graph_call(depth)
        if form == 9:
            return self.subquery(depth)
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
        if kind == 2 and self.extensions:
            toplevel = self.rng.choice(self._IDS)
        return self.ws() + toplevel + self.ws()

    def near_miss(self) -> str:
        text = self.query()
        for _ in range(self.rng.randint(1, 3)):
            edit = self.rng.choice(self._EDITS)
            pos = self.rng.randint(0, len(text))
            if edit == "delete":
                text = text[:pos] + text[pos + 1 :]
            elif edit == "insert":
                text = text[:pos] + self.rng.choice(self.chars) + text[pos:]
            elif edit == "replace":
                text = text[:pos] + self.rng.choice(self.chars) + text[pos + 1 :]
            elif edit == "truncate":
                text = text[:pos]
            else:
                end = self.rng.randint(pos, len(text))
                text = text[:end] + text[pos:end] + text[end:]
        return text
