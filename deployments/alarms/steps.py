"""The run's input for alarms: the deployment's webhook URL and the bundle's alarms, in the ``slipway`` object.

Only for a bundle version that declares alarms (older versions' modules get the ``slipway`` object they always
got). The URL holds the webhook's token: it is added to the run's redactor, so no log line, plan or stored
output shows it (the sandbox provider's ``webhook_url`` is sensitive too).
"""

from __future__ import annotations

from bundles.alarms import module_alarms

from ..runs import steps as run_steps  # noqa: F401  (registered first: this step extends their slipway object)
from ..runs.execution import Execution
from ..runs.pipeline import INPUTS, PIPELINE
from .services import alarm_endpoint_ensure, webhook_url


@PIPELINE.step(INPUTS)
def alarm_webhook(ex: Execution) -> None:
    if "slipway" not in ex.variables or not ex.version.alarms:
        return
    token = alarm_endpoint_ensure(ex.deployment)
    url = webhook_url(ex.deployment, token=token)
    ex.redactor.add(token)
    ex.redactor.add(url)
    ex.variables["slipway"] = {
        **ex.variables["slipway"],
        "alarm_webhook_url": url,
        "alarms": module_alarms(ex.version.alarms),
    }
