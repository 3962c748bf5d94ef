"""Print the circles of imports among the given packages as JSON; exit 1 when there is one.

    python import_cycles.py PACKAGE [PACKAGE ...]

A circle is a strongly connected component of more than one module in grimp's import graph
(import-linter's engine); imports under ``if TYPE_CHECKING:`` count, since a reader follows
them too. Also run by ``make lint``.
"""

from __future__ import annotations

import json
import sys

import grimp


def import_cycles(packages: list[str]) -> list[list[str]]:
    graph = grimp.build_graph(*packages, exclude_type_checking_imports=False, cache_dir=None)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def imported_by(module: str) -> list[str]:
        return sorted(graph.find_modules_directly_imported_by(module))

    for root in sorted(graph.modules):  # Tarjan's algorithm, iterative (no recursion limit)
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(imported_by(root)))]
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(imported_by(child))))
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return sorted(cycles)


if __name__ == "__main__":
    found = import_cycles(sys.argv[1:])
    print(json.dumps(found, indent=1))
    sys.exit(1 if found else 0)
