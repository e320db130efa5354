"""Alarms: the bundle's alarms (``alarms:`` in bundle.yaml) delivered into Slipway by the cloud.

Each deployment has its own alarm webhook (:class:`~.models.AlarmEndpoint`: a URL and a secret token, the token
encrypted at rest and compared by digest), passed to its module in the ``slipway`` object so the bundle wires its
cloud alarms to it. The webhook accepts Prometheus Alertmanager's format and CloudWatch alarm notifications
delivered by SNS (:mod:`.receive`); every notification accepted is an :class:`~.models.AlarmEvent`, append-only
evidence like runs and drift checks. Firing alarms show on the deployment page (with the runbook section and
the remedy as a prefilled change), the overview, the canvas and the estate query ``alarm:firing``.
"""
