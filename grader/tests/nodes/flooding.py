#!/usr/bin/env python3
"""A flooding broadcast node in plain Python (standard library only).

Written for Gossiper's own tests: it proves the grader grades a node in another language.
It follows every convention of spec/stages.md that the stage-01 fixtures check.
"""
import json
import sys

node_id = None
node_ids = []
neighbours = None
values = set()
next_msg_id = 0


def write(dest, body):
    global next_msg_id
    body["msg_id"] = next_msg_id
    next_msg_id += 1
    sys.stdout.write(json.dumps({"src": node_id, "dest": dest, "body": body}) + "\n")
    sys.stdout.flush()


def reply(request, body):
    if "msg_id" in request["body"]:
        body["in_reply_to"] = request["body"]["msg_id"]
    write(request["src"], body)


def sort_key(value):
    return (0, value, "") if isinstance(value, int) else (1, 0, value)


def handle(message):
    global node_id, node_ids, neighbours
    body = message["body"]
    kind = body.get("type")
    if kind == "init":
        node_id, node_ids = body["node_id"], body["node_ids"]
        reply(message, {"type": "init_ok"})
    elif kind == "topology":
        neighbours = body["topology"].get(node_id, [])
        reply(message, {"type": "topology_ok"})
    elif kind == "broadcast":
        if "message" not in body:
            reply(message, {"type": "error", "code": 12, "text": "broadcast needs a message"})
            return
        value = body["message"]
        if message["src"] not in node_ids:
            reply(message, {"type": "broadcast_ok"})
        if value not in values:
            values.add(value)
            targets = neighbours if neighbours is not None else node_ids
            for peer in targets:
                if peer not in (message["src"], node_id):
                    write(peer, {"type": "broadcast", "message": value})
    elif kind == "read":
        reply(message, {"type": "read_ok", "messages": sorted(values, key=sort_key)})
    elif kind in ("broadcast_ok", "topology_ok", "read_ok"):
        pass
    else:
        reply(message, {"type": "error", "code": 10, "text": "unsupported type %r" % kind})


for line in sys.stdin:
    try:
        message = json.loads(line)
    except ValueError:
        sys.stderr.write("not JSON: %s" % line)
        continue
    handle(message)
