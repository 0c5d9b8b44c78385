"""localstripe, each instance with its own in-memory store.

localstripe (PyPI) writes its whole store to /tmp/localstripe.pickle after every change and
loads it at start-up: one file shared by every instance on the machine (dev, tests, benchmarks),
rewritten in full on each write (a cost that grows with the store), and left truncated when an
instance is stopped mid-write, which makes the next start fail. The local cloud needs none of
that: a started instance is fresh, and what it holds lives as long as it runs.

    python scripts/lib/stripe-standin.py --port 8420
"""

import sys

from localstripe import resources, server


def _in_memory(_store):
    return None


resources.Store.dump_to_disk = _in_memory
resources.Store.try_load_from_disk = _in_memory

if __name__ == "__main__":
    sys.exit(server.start())
