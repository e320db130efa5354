"""An environment's dependency levels: the layers of its connection graph.

Layer 0 holds the deployments connected to nothing (producers: a network), layer N those whose producers
are all in lower layers. The canvas draws the same layers (``connections.canvas``); both come from
networkx's topological generations of the graph, condensed first so that even a cycle (which wiring
refuses) cannot break the order: the deployments of a cycle share a layer.
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from ..models import Deployment


def layers(deployments: Iterable[Deployment]) -> list[list[Deployment]]:
    """``deployments`` in dependency layers, producers first; within a layer, by name.

    Only connections between the given deployments count: a producer left out (destroyed, or not part
    of the action) does not hold its consumers back.
    """
    nodes = {str(d.pk): d for d in deployments}
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    for pk, deployment in nodes.items():
        for producer in (deployment.connections or {}).values():
            if producer in nodes and producer != pk:
                graph.add_edge(producer, pk)
    condensed = nx.condensation(graph)
    found = []
    for generation in nx.topological_generations(condensed):
        members = [nodes[pk] for member in generation for pk in condensed.nodes[member]["members"]]
        found.append(sorted(members, key=lambda d: d.name))
    return found


def layer_of(deployments: Iterable[Deployment]) -> dict[str, int]:
    """Each deployment's layer, by id (as a string)."""
    return {str(d.pk): index for index, layer in enumerate(layers(deployments)) for d in layer}
