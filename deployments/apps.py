from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments"
    verbose_name = "Deployments"
    # Encrypted columns (portal.crypto): the start-up key check and rotate_encryption_key read this list.
    encrypted_fields = (
        "Deployment.sensitive_params",
        "Deployment.sensitive_outputs",
        "Run.sensitive_params",
        "Run.plan_file",
        "StateVersion.encrypted_state",
        "ExceptionRequest.sensitive_params",
        "Artifact.data",
        "AlarmEndpoint.token_encrypted",
    )

    def ready(self) -> None:
        from . import wiring  # why: it imports models, which Django allows only once the registry is ready

        wiring.connect()
