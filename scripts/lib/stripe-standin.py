"""localstripe, each instance with its own in-memory store.

localstripe (PyPI) writes its whole store to /tmp/localstripe.pickle after every change and
loads it at start-up: one file shared by every instance on the machine (dev, tests, benchmarks),
rewritten in full on each write (a cost that grows with the store), and left truncated when an
instance is stopped mid-write, which makes the next start fail. The local cloud needs none of
that: a started instance is fresh, and what it holds lives as long as it runs.

localstripe also delivers each event to its webhook endpoints one after another, each with a
new session and aiohttp's five-minute timeout. Every local cloud registers an endpoint (the tests
start dozens, and endpoints cannot be removed), so one busy or stuck endpoint delayed the event
for all the others: under a loaded test run an order waited more than 30 s for its
`payment_intent.succeeded`. Here an event goes to every endpoint at once, each delivery bounded
by DELIVERY_TIMEOUT, as Stripe's own deliveries are independent of each other.

    python scripts/lib/stripe-standin.py --port 8420
"""

import asyncio
import hashlib
import hmac
import json
import logging
import sys

import aiohttp
from localstripe import resources, server, webhooks

# Seconds one delivery may take before it counts as failed (our webhook answers in
# milliseconds; the bound keeps a dead or stuck endpoint from holding a delivery task open).
DELIVERY_TIMEOUT = 10


def _in_memory(_store):
    return None


resources.Store.dump_to_disk = _in_memory
resources.Store.try_load_from_disk = _in_memory


async def _deliver(session, webhook, event_type, created, payload):
    log = logging.getLogger("aiohttp.access")
    signature = hmac.new(webhook.secret.encode("utf-8"), b"%d.%s" % (created, payload), hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": "t=%d,v1=%s" % (created, signature),
    }
    try:
        async with session.post(webhook.url, data=payload, headers=headers) as r:
            log.info('webhook "%s" to %s: %d', event_type, webhook.url, r.status)
    except (aiohttp.ClientError, asyncio.TimeoutError) as e:
        log.info('webhook "%s" to %s failed: %r', event_type, webhook.url, e)


async def _send_webhook(event):
    # Exported now, as localstripe does: the object may change before the delivery.
    payload = json.dumps(event._export(), indent=2, sort_keys=True).encode("utf-8")
    await asyncio.sleep(1)
    targets = [w for w in list(webhooks._webhooks.values()) if w.events is None or event.type in w.events]
    timeout = aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(_deliver(session, w, event.type, event.created, payload) for w in targets))


# schedule_webhook looks the function up in its module when an event is scheduled.
webhooks._send_webhook = _send_webhook

if __name__ == "__main__":
    sys.exit(server.start())
