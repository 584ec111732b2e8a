#!/usr/bin/env python3
"""A g-set node written the way Maelstrom's g-set workload expects (standard library only).

Written for Gossiper's own tests of the g-set workload: `read_ok` holds the set in `value`, as
Maelstrom's schema says (the track's stage 15 answers `elements`). An added element is answered
at once and copied to every peer (`replicate`, not answered): enough without faults.
"""
import json
import sys

node_id = None
node_ids = []
elements = set()
next_msg_id = 0


def write(dest, body):
    global next_msg_id
    body["msg_id"] = next_msg_id
    next_msg_id += 1
    sys.stdout.write(json.dumps({"src": node_id, "dest": dest, "body": body}) + "\n")
    sys.stdout.flush()


def reply(request, body):
    body["in_reply_to"] = request["body"]["msg_id"]
    write(request["src"], body)


for line in sys.stdin:
    if not line.strip():
        continue
    message = json.loads(line)
    body = message["body"]
    kind = body.get("type")
    if kind == "init":
        node_id, node_ids = body["node_id"], body["node_ids"]
        reply(message, {"type": "init_ok"})
    elif kind == "add":
        elements.add(body["element"])
        reply(message, {"type": "add_ok"})
        for peer in node_ids:
            if peer != node_id:
                write(peer, {"type": "replicate", "element": body["element"]})
    elif kind == "replicate":
        elements.add(body["element"])
    elif kind == "read":
        reply(message, {"type": "read_ok", "value": sorted(elements)})
