"""moto's server, with costs that grow with the work made small.

moto (PyPI) is the local cloud's SQS, SNS, SES and S3. Some of its hot paths do work that has
nothing to do with the request, and under load they made moto the bottleneck of the whole local
system (profiled with py-spy during scripts/chaos and scripts/bench checkout: one core busy,
queues backed up, consumers and the outbox relay waiting on moto):

- SQS ReceiveMessage checks each message it returns against the queue's retention period by
  computing *every* queue attribute, including the approximate counts that walk all the queue's
  messages: a receive of 10 from a queue of n messages walked the queue 10 times (58 % of moto's
  time with a few hundred messages waiting). The check here reads the retention period itself,
  with the same rule (a message past its retention is not returned).
- SQS SendMessage (also each SNS delivery to a queue) reads one attribute through the same
  all-attributes computation, and SQS tells a message's visibility by reading the clock through
  two datetime conversions, several times per message walked: a queue of a thousand messages
  made every send to it cost milliseconds. The clock reads here are `time.time()` (the same
  epoch seconds: moto computed now − 1970-01-01 in UTC), so the walks that remain are cheap.
- Every request lists moto's package directory (about 200 isdir calls) to tell a service name
  from a host (10 %). The list is the installed package: read once.
- werkzeug writes an access-log line to stderr for every request (about 12 % of moto's samples
  under `scripts/bench checkout`). Only answers of 400 and above are logged here: those are the
  lines worth reading in the stand-in's log.

Nothing else changes: same server, same state, same answers.

    python scripts/lib/moto-standin.py -H 127.0.0.1 -p 5000
"""

import sys
import time

from moto import backends
from moto.core import utils
from moto.moto_server.werkzeug_app import MotoRequestHandler
from moto.server import main
from moto.sqs import models

_modules = tuple(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: _modules


def unix_time(dt=None):
    return time.time() if dt is None else utils.unix_time(dt)


def unix_time_millis(dt=None):
    return unix_time(dt) * 1000.0


models.unix_time = unix_time
models.unix_time_millis = unix_time_millis


def _within_retention(self, queue_name, message):
    queue = self.get_queue(queue_name)
    return int(queue.message_retention_period) + message.sent_timestamp / 1000 > unix_time()


models.SQSBackend.is_message_valid_based_on_retention_period = _within_retention

_log_request = MotoRequestHandler.log_request


def _log_failures(self, code="-", size="-"):
    try:
        failed = int(code) >= 400
    except (TypeError, ValueError):
        failed = True
    if failed:
        _log_request(self, code, size)


MotoRequestHandler.log_request = _log_failures

if __name__ == "__main__":
    sys.exit(main())
