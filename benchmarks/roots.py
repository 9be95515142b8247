"""Generating large, realistic roots for benchmarks (fast: no fsync, shared files).

A root of n packets holds reports with realistic names ("data", "model_fit",
...), parameters of every type, and dependency chains: each non-"data" packet
depends on the latest earlier packet of the report upstream of it, so `uses`
and `usedby` have several levels to walk.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

import orjson

from outpack.config import CoreConfig, init_root
from outpack.hash import hash_bytes

# report name -> the report it reads from (None for sources)
REPORTS: dict[str, str | None] = {
    "data": None,
    "clean": "data",
    "model_fit": "clean",
    "forecast": "model_fit",
    "report": "forecast",
    "incoming": None,
    "summary": "incoming",
    "dashboard": "summary",
}
REGIONS = ("north", "south", "east", "west", "central")
SHARED_FILES = 64
# What `custom` holds: "small" (a display name) or "orderly" (about 1 KB, as
# orderly2 writes it: description, artefacts, roles and the R session).
CUSTOM_KINDS = ("small", "orderly")
R_PACKAGES = (
    ("orderly2", "1.99.81", True),
    ("dplyr", "1.1.4", True),
    ("ggplot2", "3.5.1", True),
    ("jsonlite", "1.8.9", False),
    ("rlang", "1.1.4", False),
    ("vctrs", "0.6.5", False),
    ("tibble", "3.2.1", False),
    ("R6", "2.5.1", False),
    ("cli", "3.6.3", False),
    ("glue", "1.8.0", False),
    ("digest", "0.6.37", False),
    ("withr", "3.0.2", False),
)


def orderly_custom(name: str, index: int, files: list[str]) -> dict[str, object]:
    """`custom` as orderly2 writes it, about 1 KB per packet."""
    return {
        "orderly": {
            "role": [
                {"path": f"{name}.R", "role": "main"},
                {"path": "input.csv", "role": "dependency"},
            ],
            "artefacts": [
                {"description": f"Outputs of {name} for run {index}", "paths": files},
            ],
            "description": {
                "display": f"{name} run {index}",
                "long": f"The {name} step of the pipeline, run {index} (benchmark packet)",
                "custom": {"owner": "benchmarks", "index": index},
            },
            "shared": [],
            "session": {
                "platform": {
                    "version": "R version 4.4.2 (2024-10-31)",
                    "os": "Debian GNU/Linux 12 (bookworm)",
                    "system": "x86_64, linux-gnu",
                },
                "packages": [
                    {"package": package, "version": version, "attached": attached}
                    for package, version, attached in R_PACKAGES
                ],
            },
        }
    }


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as stream:
        stream.write(data)


def generate_root(path: Path, count: int, *, seed: int = 1, custom: str = "small") -> list[str]:
    """Create a root at `path` with `count` packets; returns their ids (sorted)."""
    if custom not in CUSTOM_KINDS:
        raise ValueError(f"custom must be one of {CUSTOM_KINDS}")
    rng = random.Random(seed)
    root_path, _ = init_root(path, CoreConfig(require_complete_tree=True))
    outpack_dir = root_path / ".outpack"
    contents = [f"file {i}\n".encode() * (i + 1) for i in range(SHARED_FILES)]
    hashes = [hash_bytes("sha256", data) for data in contents]
    for data, file_hash in zip(contents, hashes, strict=True):
        target = outpack_dir / "files" / "sha256" / file_hash.digest[:2] / file_hash.digest[2:]
        target.parent.mkdir(parents=True, exist_ok=True)
        _write(target, data)
    names = list(REPORTS)
    latest: dict[str, str] = {}
    ids: list[str] = []
    start = 1_600_000_000.0
    for index in range(count):
        moment = start + index * 7.0
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(moment))
        packet_id = f"{stamp}-{index % 0x10000:04x}{rng.getrandbits(16):04x}"
        name = names[index % len(names)] if index >= len(names) else names[index]
        upstream = REPORTS[name]
        depends = []
        if upstream is not None and upstream in latest:
            depends.append(
                {
                    "packet": latest[upstream],
                    "query": f'latest(name == "{upstream}")',
                    "files": [{"here": "input.csv", "there": "output.csv"}],
                }
            )
        picks = rng.sample(range(SHARED_FILES), 2)
        document = {
            "schema_version": "0.1.1",
            "id": packet_id,
            "name": name,
            "parameters": {
                "region": rng.choice(REGIONS),
                "year": 2000 + index % 25,
                "tolerance": round(rng.random(), 3),
                "final": rng.random() < 0.5,
            },
            "time": {"start": moment, "end": moment + 5.0},
            "files": [
                {"path": f"out{k}.csv", "size": len(contents[p]), "hash": str(hashes[p])}
                for k, p in enumerate(picks)
            ],
            "depends": depends,
            "custom": (
                orderly_custom(name, index, [f"out{k}.csv" for k in range(len(picks))])
                if custom == "orderly"
                else {"orderly": {"description": {"display": f"{name} run {index}"}}}
            ),
            "git": None,
        }
        data = orjson.dumps(document)
        _write(outpack_dir / "metadata" / packet_id, data)
        record = {
            "schema_version": "0.1.1",
            "packet": packet_id,
            "time": moment + 6.0,
            "hash": str(hash_bytes("sha256", data)),
        }
        _write(outpack_dir / "location" / "local" / packet_id, orjson.dumps(record))
        latest[name] = packet_id
        ids.append(packet_id)
    os.sync()
    return sorted(ids)


def main() -> None:
    parser = argparse.ArgumentParser(description="Generate a benchmark root")
    parser.add_argument("path", type=Path)
    parser.add_argument("count", type=int)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--custom", choices=CUSTOM_KINDS, default="small", help="'orderly': ~1 KB per packet"
    )
    args = parser.parse_args()
    began = time.perf_counter()
    generate_root(args.path, args.count, seed=args.seed, custom=args.custom)
    print(f"{args.count} packets in {time.perf_counter() - began:.1f}s at {args.path}")


if __name__ == "__main__":
    main()
