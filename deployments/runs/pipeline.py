"""A run is a pipeline of named stages, each a list of steps.

================  ===============================================================================
``inputs``        gather the engine's input variables: the params, the ``slipway`` context
                  (connections between deployments will add a step here)
``plan``          write the working directory, ``init``, plan (or load a confirmed plan), read it
``gate``          steps that may hold the plan for a person: the environment's policy (ops approval),
                  the requester's review; then :func:`gate.decide` says apply, wait, or finish
``apply``         apply exactly the saved plan
``after_apply``   store outputs, index the resources of the new state (drift, cost: add steps here)
================  ===============================================================================

The deployment's status after the run is the one rule in :mod:`.status`, applied when the run ends.

A step is a function of the :class:`~deployments.runs.execution.Execution`. It reads and fills the
execution (``variables``, ``summary``, ``holds``), logs through ``ex.log``, drives the engine through
``ex.engine``, and ends the run early by raising ``RunStopped``/``RunFailed``. A capability adds a
step; it does not edit the runner::

    from deployments.runs.pipeline import AFTER_APPLY, PIPELINE

    @PIPELINE.step(AFTER_APPLY)
    def record_cost(ex):
        ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

INPUTS, PLAN, GATE, APPLY, AFTER_APPLY = "inputs", "plan", "gate", "apply", "after_apply"
STAGES = (INPUTS, PLAN, GATE, APPLY, AFTER_APPLY)

Step = Callable[..., None]


@dataclass
class Pipeline:
    """The stages' steps, in order. One instance, :data:`PIPELINE`, is what every run follows."""

    steps: dict[str, list[tuple[str, Step]]] = field(default_factory=lambda: {stage: [] for stage in STAGES})

    def add(self, stage: str, func: Step, *, name: str = "", before: str = "") -> Step:
        """Add ``func`` to ``stage`` (at the end, or before the step named ``before``); adding a name again
        replaces that step, so importing a module twice changes nothing."""
        if stage not in self.steps:
            raise ValueError(f"No stage {stage!r}; the stages are {', '.join(STAGES)}.")
        name = name or func.__name__
        steps = [(n, f) for n, f in self.steps[stage] if n != name]
        names = [n for n, _ in steps]
        if before and before not in names:
            raise ValueError(f"No step {before!r} in the {stage} stage to add {name!r} before.")
        steps.insert(names.index(before) if before else len(steps), (name, func))
        self.steps[stage] = steps
        return func

    def step(self, stage: str, *, name: str = "", before: str = "") -> Callable[[Step], Step]:
        """Decorator form of :meth:`add`."""
        return lambda func: self.add(stage, func, name=name, before=before)

    def names(self, stage: str) -> list[str]:
        return [n for n, _ in self.steps[stage]]

    def run_stage(self, stage: str, ex) -> None:
        for _, func in self.steps[stage]:
            func(ex)


PIPELINE = Pipeline()
