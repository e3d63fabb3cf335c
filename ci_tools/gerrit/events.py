"""Stream-event fan-out: every event goes to the history and to each connected client.

Each ``gerrit stream-events`` client gets its own unbounded queue, so a slow
client never makes another lose events, and a line is always written whole.
Faults act here: ``pause()`` holds delivery (events keep queueing, in order)
until ``resume()``; ``drop_all()`` cuts every stream connection at once, like
a network drop (events published while nobody listens are lost for those
clients, exactly as with upstream).
"""

import json
import queue
import threading
import time

CLOSE = object()


def encode(event):
    # ASCII-only JSON: control characters, U+2028 and any unicode become \u
    # escapes, so one event is always exactly one line for every reader.
    return json.dumps(event, ensure_ascii=True, separators=(",", ":")) + "\n"


class Subscriber:
    def __init__(self, bus, types=None):
        self.bus = bus
        self.types = set(types or ())
        self.queue = queue.Queue()
        self.closed = threading.Event()
        self.on_drop = None
        # Set by the front end: False once the client has gone away.
        self.alive = lambda: True

    def get(self, timeout=None):
        """The next line to send, or None when the subscription is over."""
        item = self.queue.get(timeout=timeout)
        if item is CLOSE:
            return None
        self.bus.wait_unpaused(self)
        return None if self.closed.is_set() else item

    def close(self):
        self.closed.set()
        self.queue.put(CLOSE)
        self.bus.unsubscribe(self)


class EventBus:
    def __init__(self, store):
        self.store = store
        self._lock = threading.Lock()
        self._publish_lock = threading.Lock()
        self._subscribers = []
        self._running = threading.Event()
        self._running.set()

    def subscribe(self, types=None):
        sub = Subscriber(self, types)
        with self._lock:
            self._subscribers.append(sub)
        return sub

    def unsubscribe(self, sub):
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)

    @property
    def subscriber_count(self):
        with self._lock:
            return len(self._subscribers)

    def publish(self, event):
        event.setdefault("eventCreatedOn", int(time.time()))
        line = encode(event)
        # One order for everyone: the history and every client see events in
        # the same sequence, even with concurrent publishers.
        with self._publish_lock:
            seq = self.store.add_event(event)
            with self._lock:
                subs = list(self._subscribers)
            for sub in subs:
                if not sub.types or event.get("type") in sub.types:
                    sub.queue.put(line)
        return seq

    # -- faults ----------------------------------------------------------------

    def pause(self):
        self._running.clear()

    def resume(self):
        self._running.set()

    @property
    def paused(self):
        return not self._running.is_set()

    def wait_unpaused(self, sub):
        while not self._running.wait(0.2):
            if sub.closed.is_set() or not sub.alive():
                sub.close()
                return

    def drop_all(self):
        with self._lock:
            subs = list(self._subscribers)
        for sub in subs:
            sub.close()
            if sub.on_drop:
                sub.on_drop()
        return len(subs)
