#!/usr/bin/env python3
"""A unique-ids node in the style of Maelstrom's own Python demos (standard library only).

Written for Gossiper's own tests of the unique-ids workload and Maelstrom's command line. Its
message ids start at 1 and `init_ok` carries one, as Maelstrom's libraries number them, not as
the track does. An id is the node's id and a counter kept in memory: unique across the cluster,
but not across a restart (`--nemesis kill` catches that). It answers echo too, and any other
request with error 10 (not supported), as Maelstrom's libraries do.
"""
import json
import sys

node_id = None
next_msg_id = 1
counter = 0


def reply(request, body):
    global next_msg_id
    body["msg_id"] = next_msg_id
    next_msg_id += 1
    body["in_reply_to"] = request["body"]["msg_id"]
    sys.stdout.write(json.dumps({"src": node_id, "dest": request["src"], "body": body}) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    if not line.strip():
        continue
    message = json.loads(line)
    body = message["body"]
    kind = body.get("type")
    if kind == "init":
        node_id = body["node_id"]
        sys.stderr.write(f"{node_id} ready\n")
        reply(message, {"type": "init_ok"})
    elif kind == "generate":
        counter += 1
        reply(message, {"type": "generate_ok", "id": f"{node_id}-{counter}"})
    elif kind == "echo":
        reply(message, {"type": "echo_ok", "echo": body["echo"]})
    elif "in_reply_to" not in body:
        reply(message, {"type": "error", "code": 10, "text": f"{kind} is not supported"})
