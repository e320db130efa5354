import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_wsgi_application()

# gunicorn runs no system checks: refuse here, with the sentence to act on, rather than serve pages
# that fail (a wrong encryption key, static files never collected).
from portal.checks import refuse_to_start  # noqa: E402  (needs the application, hence Django, set up)

refuse_to_start(web=True)

# What loading Django and the apps made (about 140k objects) lives as long as the process: take it out of the
# cyclic collector's full passes, which walked it every few requests (90-100 ms each, most of a page's p95 in
# bench/pages.py). The objects of each request are collected as before; garbage left by start-up is collected
# first, so none of it stays for the life of the process.
gc.collect()
gc.freeze()
