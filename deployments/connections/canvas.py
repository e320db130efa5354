"""The environment canvas: every deployment a node, every connection an edge, laid out in dependency layers.

The layout is networkx's: the layers are the topological generations of the connection graph (producers
first, so a network is at the bottom and the apps that use it at the top), condensed first so that even
a cycle (which wiring refuses) cannot break the page; ``multipartite_layout`` places each layer's nodes,
in a stable order (by bundle, then name). This module only scales those coordinates to the SVG's pixels.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import networkx as nx

from ..alarms.selectors import firing_counts
from ..choices import RUN_ACTIVE, DeploymentStatus
from ..models import Deployment, Environment, Run
from .selectors import GONE, HEAVY, publishes

NODE_W, NODE_H = 200, 64
PORT_STEP, MAX_PORTS = 16, 6  # open connection ports along a box's top edge
GAP_X, GAP_Y, PAD = 40, 80, 24

# Status colours (fill, stroke) drawn as SVG attributes: no inline style, so the page's CSP holds.
COLOURS = {
    DeploymentStatus.LIVE: ("#e7f6ec", "#1f7a3d"),
    DeploymentStatus.DEPLOYING: ("#e8f0fb", "#2f5fa8"),
    DeploymentStatus.DESTROYING: ("#fbefe3", "#a85b12"),
    DeploymentStatus.FAILED: ("#fbe9e9", "#b42318"),
    DeploymentStatus.DRIFTED: ("#fdf6e3", "#8a6d00"),
    DeploymentStatus.DRAFT: ("#f2f2f2", "#666666"),
}


@dataclass
class Node:
    deployment: Deployment
    x: int = 0
    y: int = 0
    layer: int = 0
    default_of: list[str] = field(default_factory=list)
    run: Run | None = None
    icon: str = ""
    open_connections: list[str] = field(default_factory=list)  # its connections with no producer
    ports: list[dict] = field(default_factory=list)  # the first few of them as drawn: {name, title, type, required, x}
    step: object = None  # its step in the environment's latest environment-wide action, if any
    alarms_firing: int = 0  # alarms firing now (a badge on the box)

    @property
    def fill(self) -> str:
        return COLOURS.get(self.deployment.status, COLOURS[DeploymentStatus.DRAFT])[0]

    @property
    def stroke(self) -> str:
        return COLOURS.get(self.deployment.status, COLOURS[DeploymentStatus.DRAFT])[1]

    @property
    def progress_width(self) -> int:
        return round((NODE_W - 16) * self.run.progress_percent / 100) if self.run else 0


@dataclass
class Edge:
    consumer: Node
    producer: Node
    name: str
    type: str

    @property
    def x1(self) -> int:
        return round(self.consumer.x + NODE_W / 2)

    @property
    def y1(self) -> int:
        return round(self.consumer.y + NODE_H)

    @property
    def x2(self) -> int:
        return round(self.producer.x + NODE_W / 2)

    @property
    def y2(self) -> int:
        return round(self.producer.y)

    @property
    def label_x(self) -> int:
        return round((self.x1 + self.x2) / 2)

    @property
    def label_y(self) -> int:
        return round((self.y1 + self.y2) / 2)


@dataclass
class Canvas:
    nodes: list[Node]
    edges: list[Edge]
    width: float
    height: float

    @property
    def running(self) -> bool:
        return any(n.run is not None for n in self.nodes)


def environment_canvas(environment: Environment) -> Canvas:
    """The environment's deployments (not destroyed) and connections, laid out."""
    deployments = list(
        Deployment.objects.filter(environment=environment)
        .exclude(status=DeploymentStatus.DESTROYED)
        .select_related("bundle_version__bundle")
        .defer(*HEAVY)
        .order_by("bundle_version__bundle__name", "name")
    )
    nodes = {str(d.pk): Node(d) for d in deployments}
    runs = Run.objects.filter(deployment__in=deployments, status__in=RUN_ACTIVE).order_by("created_at")
    for run in runs:
        nodes[str(run.deployment_id)].run = nodes[str(run.deployment_id)].run or run
    for deployment_id, count in firing_counts([d.pk for d in deployments]).items():
        nodes[str(deployment_id)].alarms_firing = count
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    edges = []
    for node in nodes.values():
        node.icon = _icon(node.deployment.bundle_version.bundle.icon)
        declared = {c["name"]: c for c in node.deployment.bundle_version.connections}
        for name, producer in sorted((node.deployment.connections or {}).items()):
            if producer in nodes and name in declared:
                graph.add_edge(producer, str(node.deployment.pk))
                edges.append(Edge(node, nodes[producer], name, declared[name]["type"]))
        if node.deployment.status not in GONE:
            wired = node.deployment.connections or {}
            node.open_connections = [name for name in declared if not wired.get(name)]
            node.ports = _ports([declared[name] for name in node.open_connections])
    _mark_defaults(nodes)
    return _laid_out(graph, nodes, edges)


def _ports(open_ones: list[dict]) -> list[dict]:
    """Open connections drawn as ports on the top edge of a box, right to left."""
    return [
        {
            "name": c["name"],
            "title": c.get("title") or c["name"],
            "type": c["type"],
            "required": c.get("required", True),
            "x": NODE_W - 12 - PORT_STEP * index,
        }
        for index, c in enumerate(open_ones[:MAX_PORTS])
    ]


def _mark_defaults(nodes: dict[str, Node]) -> None:
    """Each node that is its environment's default producer of a type (the first live one that says so)."""
    taken: set[str] = set()
    for node in sorted(nodes.values(), key=lambda n: n.deployment.created_at):
        if node.deployment.status not in (DeploymentStatus.LIVE, DeploymentStatus.DRIFTED, DeploymentStatus.DEPLOYING):
            continue
        for artifact in node.deployment.bundle_version.artifacts:
            kind = artifact.get("type")
            if artifact.get("env_default") and kind not in taken and publishes(node.deployment.bundle_version, kind):
                taken.add(kind)
                node.default_of.append(kind)


def _laid_out(graph: nx.DiGraph, nodes: dict[str, Node], edges: list[Edge]) -> Canvas:
    if not nodes:
        return Canvas([], [], NODE_W + 2 * PAD, NODE_H + 2 * PAD)
    condensed = nx.condensation(graph)
    for layer, members in enumerate(nx.topological_generations(condensed)):
        for member in members:
            for pk in condensed.nodes[member]["members"]:
                nodes[pk].layer = layer
    # Within a layer, a stable order: the order the nodes were added (bundle, then name).
    ordered = nx.DiGraph()
    for pk in sorted(nodes, key=lambda pk: (nodes[pk].layer, list(nodes).index(pk))):
        ordered.add_node(pk, layer=nodes[pk].layer)
    positions = nx.multipartite_layout(ordered, subset_key="layer", align="horizontal", scale=1)
    layers = max(n.layer for n in nodes.values()) + 1
    widest = max(sum(1 for n in nodes.values() if n.layer == layer) for layer in range(layers))
    width = widest * NODE_W + (widest - 1) * GAP_X + 2 * PAD
    height = layers * NODE_H + (layers - 1) * GAP_Y + 2 * PAD
    xs = [float(p[0]) for p in positions.values()]
    span = (max(xs) - min(xs)) or 1.0
    for pk, (x, _) in positions.items():
        node = nodes[pk]
        # networkx spreads each layer over [-1, 1]; scale it to the widest layer's pixels.
        node.x = round(PAD + (float(x) - min(xs)) / span * (width - 2 * PAD - NODE_W)) if len(xs) > 1 else PAD
        node.y = PAD + (layers - 1 - node.layer) * (NODE_H + GAP_Y)  # layer 0 (producers) at the bottom
    return Canvas(list(nodes.values()), edges, width, height)


def _icon(svg: str) -> str:
    """A bundle's icon as a data: URL for an <image>, so its markup never becomes part of the page."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode() if svg.strip() else ""
