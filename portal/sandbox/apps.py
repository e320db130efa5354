import logging

from django.apps import AppConfig

log = logging.getLogger(__name__)


class SandboxConfig(AppConfig):
    """The sandbox cloud: a stand-in for a cloud provider's API, its console and its provider.

    Self-contained: it imports nothing from Slipway's apps, and Slipway reaches it only through the
    engine and the provider (see docs/sandbox.md).
    """

    name = "portal.sandbox"
    label = "sandbox"
    verbose_name = "Sandbox cloud"

    def ready(self) -> None:
        from celery.signals import worker_init

        worker_init.connect(install_provider_at_worker_start, dispatch_uid="sandbox.install_provider", weak=False)


def install_provider_at_worker_start(**kwargs) -> None:
    """Every worker (re)installs the provider before its first run: idempotent, and a no-op when current."""
    from django.conf import settings

    from .install import install

    try:
        path, changed = install(settings.SLIPWAY_PROVIDER_DIR)
    except OSError as exc:
        # A read-only folder (an image built with it) keeps the copy it has; runs fail clearly if there is none.
        log.warning("The sandbox provider could not be (re)installed in %s: %s", settings.SLIPWAY_PROVIDER_DIR, exc)
        return
    if changed:
        log.info("Installed the sandbox provider at %s", path)
