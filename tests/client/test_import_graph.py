"""The layers hold: no two modules of nborch import each other (directly or round a loop) as
they load, and the client imports nothing of the orchestration or the store until it is
asked to carry an operation out in-process."""

from __future__ import annotations

from support.import_graph import cycles, import_graph


def test_no_module_imports_itself_round_a_loop() -> None:
    assert cycles(import_graph()) == []


def test_the_client_loads_neither_orchestration_nor_store() -> None:
    graph = import_graph()
    below = ("nborch.orchestration", "nborch.store")
    reached = {
        (module, other)
        for module, edges in graph.items()
        if module.startswith("nborch.client")
        for other in edges
        if other.startswith(below)
    }
    assert reached == set()


def test_the_graph_sees_imports_under_if_and_try_but_not_type_checking() -> None:
    # The check above is only as good as the graph: a known edge and a known non-edge.
    graph = import_graph()
    assert "nborch.client.operations" in graph["nborch.client.client"]
    assert "nborch.store.engine" not in graph["nborch.client.in_process"]  # TYPE_CHECKING
