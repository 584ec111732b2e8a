#!/usr/bin/env python3
"""A stateless broadcast node: it keeps no values of its own, only in a Maelstrom service.

A broadcast reads the list under key "values" and compare-and-sets it to the list with the
value added (creating the key the first time), retrying until its cas succeeds, and only then
answers broadcast_ok. A read answers with the service's list. Flags:
  --service lin-kv|seq-kv   which service holds the list (default lin-kv)
  --trick                   before each read, write a key unique to this node and this read, so
                            that seq-kv serves the read from its newest state
"""
import itertools
import json
import sys

args = sys.argv[1:]
service = args[args.index("--service") + 1] if "--service" in args else "lin-kv"
trick = "--trick" in args

node_id = None
next_id = itertools.count()
callbacks = {}
unique = itertools.count()


def send(dest, body):
    body = dict(body, msg_id=next(next_id))
    sys.stdout.write(json.dumps({"src": node_id, "dest": dest, "body": body}) + "\n")
    sys.stdout.flush()
    return body["msg_id"]


def reply(request, body):
    send(request["src"], dict(body, in_reply_to=request["body"]["msg_id"]))


def call(body, then):
    callbacks[send(service, body)] = then


def add(value, done):
    def got(current):
        if current["type"] == "read_ok":
            old = current["value"]
            request = {"type": "cas", "key": "values", "from": old, "to": old + [value]}
        else:
            request = {"type": "cas", "key": "values", "from": None, "to": [value],
                       "create_if_not_exists": True}
        call(request, lambda answer: done() if answer["type"] == "cas_ok" else add(value, done))
    call({"type": "read", "key": "values"}, got)


def read(done):
    def got(answer):
        done(sorted(answer["value"]) if answer["type"] == "read_ok" else [])
    if trick:
        key = "%s-%d" % (node_id, next(unique))
        call({"type": "write", "key": key, "value": 0},
             lambda _: call({"type": "read", "key": "values"}, got))
    else:
        call({"type": "read", "key": "values"}, got)


for line in sys.stdin:
    message = json.loads(line)
    body = message["body"]
    kind = body["type"]
    if "in_reply_to" in body and body["in_reply_to"] in callbacks:
        callbacks.pop(body["in_reply_to"])(body)
    elif kind == "init":
        node_id = body["node_id"]
        reply(message, {"type": "init_ok"})
    elif kind == "topology":
        reply(message, {"type": "topology_ok"})
    elif kind == "broadcast":
        add(body["message"], lambda m=message: reply(m, {"type": "broadcast_ok"}))
    elif kind == "read":
        read(lambda values, m=message: reply(m, {"type": "read_ok", "messages": values}))
