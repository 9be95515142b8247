"""The query index builds its lookup tables on first use: they must stay current."""

from __future__ import annotations

from dataclasses import dataclass, field

from outpack.query import QueryIndex


@dataclass
class Packet:
    id: str
    name: str
    parameters: dict[str, object] | None = None
    dependency_ids: list[str] = field(default_factory=list)


def tables(index: QueryIndex) -> tuple[object, ...]:
    return (
        sorted(index.sorted_ids()),
        {name: sorted(index.with_name(name)) for name in ("a", "b", "c")},
        {
            (parameter, name): {
                key: sorted(ids)
                for key, ids in index.values_of(parameter, name).items()
                if ids  # a replaced packet may leave an empty set behind
            }
            for parameter in ("x", "y")
            for name in (None, "a", "b", "c")
        },
        {key: sorted(value) for key, value in index.used_by.items() if value},
        [
            sorted(s)
            for s in index.numbers_between("x", 0, 10, low_open=False, high_open=False)
            if s
        ],
    )


def test_tables_built_late_or_early_agree() -> None:
    first = [
        Packet("20240101-000000-00000001", "a", {"x": 1, "y": "u"}),
        Packet(
            "20240101-000000-00000002", "b", {"x": 2.0, "y": True}, ["20240101-000000-00000001"]
        ),
        Packet("20240101-000000-00000003", "a", None, ["20240101-000000-00000002"] * 2),
    ]
    later = [
        Packet("20240101-000000-00000004", "c", {"x": 3}, ["20240101-000000-00000001"]),
        # Replaces a packet: its old entries must go from every table.
        Packet("20240101-000000-00000002", "c", {"x": 5, "y": "v"}),
        Packet("20230101-000000-00000000", "a", {"x": 1}),
    ]
    eager = QueryIndex.from_packets(first)
    tables(eager)  # every table now exists and is updated by `add`
    lazy = QueryIndex.from_packets(first)
    for packet in later:
        eager.add(packet)
        lazy.add(packet)
    fresh = QueryIndex()
    for packet in [*first, *later]:
        fresh.add(packet)
    assert tables(eager) == tables(lazy) == tables(fresh)
    assert eager.with_value("x", ("number", 1.0)) == {
        "20240101-000000-00000001",
        "20230101-000000-00000000",
    }
    assert eager.depends_on["20240101-000000-00000003"] == ("20240101-000000-00000002",)


def test_repeated_ids_keep_the_last() -> None:
    index = QueryIndex.from_packets(
        [Packet("20240101-000000-00000001", "a", {"x": 1}), Packet("20240101-000000-00000001", "b")]
    )
    assert len(index) == 1 and index.names["20240101-000000-00000001"] == "b"
    assert index.values_of("x") == {}
