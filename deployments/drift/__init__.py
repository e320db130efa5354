"""Drift detection: what the cloud really holds, compared with the configuration Slipway applied.

A :class:`~.models.DriftCheck` is its own record, not a run: a refresh-only plan on a copy of the
deployment's latest state, in a workdir of its own, that never takes the state lock (so it never blocks
an apply). Checks are scheduled per environment tier and dispatched with an in-flight limit
(:mod:`.dispatch`); revert and accept go through the normal change path (:mod:`.services`).
"""
