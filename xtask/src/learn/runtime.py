# ---------------------------------------------------------------------------------------------
# The tiny runtime: Maelstrom's JSON protocol over stdin/stdout, standard library only. You
# should not need to change it; your code goes in the handlers below it.
#
#   node.reply(request, body)    answer a request (sets in_reply_to)
#   node.send(dest, body)        send a message to another node (or a client)
#   node.rpc(dest, body, on_reply, timeout_ms=1000, on_timeout=None)
#                                send a request (to a node, or a service such as "seq-kv") and
#                                call on_reply(reply) when its answer arrives, error replies
#                                included (reply["body"]["type"] == "error"); on_timeout() if
#                                none comes in time
#   node.every(ms, fn)           call fn() every ms milliseconds (start timers in on_init)
#   node.after(ms, fn)           call fn() once, ms milliseconds from now
#   node.node_id, node.node_ids  who you are and every node in the cluster (after init)
#   node.peers()                 node_ids without yourself
#   node.random                  a random.Random seeded from --seed or $GOSSIP_SEED
#   node.log(text)               a line on stderr (stdout is for messages only)
#
# Every message written gets msg_id from one counter that starts at 0 with init_ok. A request
# type without a handler is answered with error 10, a body without "type" with error 12; a
# reply (a message with in_reply_to) is never answered.
# Timers run only once every line that has already arrived is handled; at the end of stdin the
# node exits 0.
# ---------------------------------------------------------------------------------------------
import heapq
import itertools
import json
import os
import random
import select
import sys
import time


class RpcError(Exception):
    """Raise it in a handler to answer the request with an error: RpcError(20, "Key not found")."""

    def __init__(self, code, text):
        super().__init__(text)
        self.code = code
        self.text = text


class Node:
    def __init__(self, seed=None):
        self.node_id = None
        self.node_ids = []
        self.random = random.Random(seed)
        self.on_init = None
        self._handlers = {}
        self._waiting = {}
        self._next_msg_id = 0
        self._timers = []
        self._order = itertools.count()
        self._start = time.monotonic()

    def handler(self, kind, fields=()):
        """Decorator: @node.handler("broadcast", fields=["message"]) def on_broadcast(msg): ...
        A message missing one of `fields` is answered with error 12 before the handler runs."""

        def register(function):
            self._handlers[kind] = (function, tuple(fields))
            return function

        return register

    def peers(self):
        return [other for other in self.node_ids if other != self.node_id]

    def log(self, text):
        print(text, file=sys.stderr, flush=True)

    def send(self, dest, body):
        body = dict(body)
        body["msg_id"] = self._next_msg_id
        self._next_msg_id += 1
        line = json.dumps({"src": self.node_id, "dest": dest, "body": body}, separators=(",", ":"))
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        return body["msg_id"]

    def rpc(self, dest, body, on_reply, timeout_ms=1000, on_timeout=None):
        msg_id = self.send(dest, body)
        self._waiting[msg_id] = on_reply

        def expire():
            if self._waiting.pop(msg_id, None) is not None and on_timeout is not None:
                on_timeout()

        self.after(timeout_ms, expire)
        return msg_id

    def reply(self, request, body):
        body = dict(body)
        if isinstance(request["body"], dict) and "msg_id" in request["body"]:
            body["in_reply_to"] = request["body"]["msg_id"]
        return self.send(request["src"], body)

    def after(self, ms, function):
        heapq.heappush(self._timers, (self._now() + ms / 1000, next(self._order), None, function))

    def every(self, ms, function):
        period = ms / 1000
        heapq.heappush(self._timers, (self._now() + period, next(self._order), period, function))

    def _now(self):
        return time.monotonic() - self._start

    def _handle(self, line):
        try:
            msg = json.loads(line)
            body = msg["body"]
            msg["src"]
        except (ValueError, KeyError, TypeError):
            self.log(f"not a message, ignored: {line!r}")
            return
        kind = body.get("type") if isinstance(body, dict) else None
        if not isinstance(kind, str):
            self.reply(msg, {"type": "error", "code": 12, "text": "the body has no type"})
            return
        if kind == "init":
            self.node_id = body["node_id"]
            self.node_ids = list(body["node_ids"])
            self.reply(msg, {"type": "init_ok"})
            if self.on_init:
                self.on_init()
            return
        answered = body.get("in_reply_to")
        if answered is not None and answered in self._waiting:
            self._waiting.pop(answered)(msg)
            return
        if kind not in self._handlers:
            if not kind.endswith("_ok") and answered is None:
                self.reply(msg, {"type": "error", "code": 10, "text": f"unsupported type {kind}"})
            return
        function, fields = self._handlers[kind]
        missing = [field for field in fields if field not in body]
        if missing:
            text = f"the `{kind}` body does not fit its schema: missing field `{missing[0]}`"
            self.reply(msg, {"type": "error", "code": 12, "text": text})
            return
        try:
            function(msg)
        except RpcError as error:
            self.reply(msg, {"type": "error", "code": error.code, "text": error.text})

    def _run_due_timers(self):
        while self._timers and self._timers[0][0] <= self._now():
            due, _, period, function = heapq.heappop(self._timers)
            if period is not None:
                heapq.heappush(self._timers, (due + period, next(self._order), period, function))
            function()

    def run(self):
        stdin = sys.stdin.fileno()
        pending = b""
        while True:
            timeout = None
            if self._timers:
                timeout = max(0.0, self._timers[0][0] - self._now())
            ready, _, _ = select.select([stdin], [], [], timeout)
            if ready:
                chunk = os.read(stdin, 1 << 16)
                if not chunk:
                    if pending.strip():
                        self._handle(pending.decode())
                    return
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        self._handle(line.decode())
                # Handle everything that has already arrived before any timer runs.
                continue
            self._run_due_timers()
