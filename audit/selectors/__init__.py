"""Reads for reviewers: the estate as of a time and the diff between two times (:mod:`.estate`), the
timeline (:mod:`.timeline`), one deployment's history and one configuration change (:mod:`.history`)."""

from deployments.choices import DeploymentStatus

from .estate import (
    DiffEntry,
    EstateDiff,
    EstateFilters,
    HistoricalDeployment,
    RunLine,
    _latest_rows,
    estate_as_of,
    estate_diff,
    params_summary,
)
from .history import ConfigChange, HistoryStep, config_change, deployment_history, history_index
from .timeline import CONFIG_MODELS, TimelineEntry, TimelineFilters, TimelineRows, timeline, timeline_event_types

__all__ = [
    "CONFIG_MODELS",
    "ConfigChange",
    "DeploymentStatus",
    "DiffEntry",
    "EstateDiff",
    "EstateFilters",
    "HistoricalDeployment",
    "HistoryStep",
    "RunLine",
    "TimelineEntry",
    "TimelineFilters",
    "TimelineRows",
    "_latest_rows",
    "config_change",
    "deployment_history",
    "estate_as_of",
    "estate_diff",
    "history_index",
    "params_summary",
    "timeline",
    "timeline_event_types",
]
