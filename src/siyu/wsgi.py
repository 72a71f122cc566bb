"""WSGI entry point (``siyu serve`` runs it under waitress, or granian's worker processes).

The GIL's switch interval is 0.5 ms here, not CPython's 5 ms: a request thread coming back from the
database, an ``flock`` or an ``fsync`` waits that long for the GIL while its process's other threads
compute. The events API's group leader (ADR 0021) makes a dozen such calls while it holds the
workers' write lock; at 5 ms each, the lock was held several times longer than its work took."""

import os
import sys

from django.core.wsgi import get_wsgi_application

GIL_SWITCH_SECONDS = 0.0005

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siyu.settings")
sys.setswitchinterval(GIL_SWITCH_SECONDS)
application = get_wsgi_application()
