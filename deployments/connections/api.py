"""The API's view of connections: a deployment's artifacts (sensitive data masked, shown in clear only through an
audited reveal) and an environment's graph (what ``slipway env graph`` prints)."""

from __future__ import annotations

from rest_framework import serializers

from ..models import Artifact, Environment
from .canvas import environment_canvas
from .selectors import artifact_shown


class ArtifactSerializer(serializers.ModelSerializer):
    """The newest version of one artifact a deployment publishes."""

    data = serializers.SerializerMethodField(
        help_text="The payload's data, each value the resource type marks x-sensitive masked as (sensitive:…); "
        "the clear values only through the audited reveal."
    )
    created_by_run = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Artifact
        fields = ["name", "type", "type_version", "serial", "specs", "data", "created_by_run", "created_at"]

    def get_data(self, artifact: Artifact) -> dict:
        return artifact_shown(artifact)


class RevealedArtifactSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    serial = serializers.IntegerField()
    data = serializers.JSONField(help_text="The payload's data in clear.")


class GraphNodeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    bundle = serializers.CharField()
    bundle_version = serializers.CharField()
    status = serializers.CharField()
    layer = serializers.IntegerField(help_text="0 for deployments that use nothing; a consumer is above its producers.")
    default_of = serializers.ListField(
        child=serializers.CharField(), help_text="Resource types it is the environment's default producer of."
    )
    run = serializers.JSONField(allow_null=True, help_text="The run on its way: {id, action, status, progress}.")
    open_connections = serializers.ListField(child=serializers.CharField(), help_text="Connections with no producer.")


class GraphEdgeSerializer(serializers.Serializer):
    consumer = serializers.CharField(help_text="The consumer's name.")
    connection = serializers.CharField()
    producer = serializers.CharField(help_text="The producer's name.")
    type = serializers.CharField(help_text="The resource type the connection carries.")


class GraphSerializer(serializers.Serializer):
    environment = serializers.CharField(help_text="project/environment")
    nodes = GraphNodeSerializer(many=True)
    edges = GraphEdgeSerializer(many=True)


def environment_graph(environment: Environment) -> dict:
    """The environment's deployments and connections, in the canvas's layers."""
    canvas = environment_canvas(environment)
    nodes = []
    for node in sorted(canvas.nodes, key=lambda n: (-n.layer, n.deployment.name)):
        d, run = node.deployment, node.run
        nodes.append(
            {
                "id": d.pk,
                "name": d.name,
                "bundle": d.bundle_version.bundle.name,
                "bundle_version": d.bundle_version.version,
                "status": d.status,
                "layer": node.layer,
                "default_of": node.default_of,
                "run": {"id": run.pk, "action": run.action, "status": run.status, "progress": run.progress_percent}
                if run
                else None,
                "open_connections": node.open_connections,
            }
        )
    edges = [
        {
            "consumer": e.consumer.deployment.name,
            "connection": e.name,
            "producer": e.producer.deployment.name,
            "type": e.type,
        }
        for e in sorted(canvas.edges, key=lambda e: (e.consumer.deployment.name, e.name))
    ]
    return {"environment": str(environment), "nodes": nodes, "edges": edges}
