import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_wsgi_application()

# gunicorn runs no system checks: refuse here, with the sentence to act on, rather than serve pages
# that fail (a wrong encryption key, static files never collected).
from portal.checks import refuse_to_start  # noqa: E402  (needs the application, hence Django, set up)

refuse_to_start(web=True)
