"""The embedded broker: kombu's filesystem transport, with messages written atomically.

kombu's own filesystem transport creates a message file and then writes into it; a consumer
listing the folder in between takes an empty file and the worker dies on a JSON error. Here a
message is written under a temporary name the consumer ignores and renamed into place, which is
atomic on POSIX, so a consumer sees whole messages or none.
"""

import os
import uuid
from time import monotonic

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

SCHEME = "slipwayfs"
# The embedded broker's URL. The filesystem has no host, but without one kombu warns "No hostname was supplied"
# on every start of the worker and beat: a warning a newcomer running `make run` cannot act on.
EMBEDDED_URL = f"{SCHEME}://localhost/"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".part"  # not "<queue>.msg": consumers skip it
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


TRANSPORT_ALIASES[SCHEME] = "portal.broker:Transport"
