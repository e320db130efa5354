"""What deployments cost: the change a run or an exception makes, budgets, and the sums per team, project
and environment. Every figure comes from the bundle's cost model through ``bundles.cost.monthly_estimate``
(kept on each deployment as ``monthly_cost``)."""
