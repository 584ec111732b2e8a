#!/usr/bin/env python3
"""A flooding broadcast node in plain Python (standard library only).

Written for Gossiper's own tests: it proves the grader grades a node in another language.
It follows every convention of spec/stages.md that the stage-01 fixtures check.

Flags make it misbehave on purpose, for the harness's tests:
  --drop-every N    acknowledge but silently drop every value v with v % N == N - 1
  --crash-after N   exit with code 3 after handling N messages
  --garbage         write a non-JSON line to stdout before every reply
  --unknown-dest    also send each new value to a node that does not exist
  --no-init         never answer init
  --ignore-eof      keep running after stdin closes
"""
import argparse
import json
import os
import sys
import time

flags = argparse.ArgumentParser()
flags.add_argument("--drop-every", type=int, default=0)
flags.add_argument("--crash-after", type=int, default=0)
flags.add_argument("--garbage", action="store_true")
flags.add_argument("--unknown-dest", action="store_true")
flags.add_argument("--no-init", action="store_true")
flags.add_argument("--ignore-eof", action="store_true")
flags = flags.parse_args()
sys.stderr.write("pid %d\n" % os.getpid())
sys.stderr.flush()

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
    if flags.garbage:
        sys.stdout.write("this line is not JSON\n")
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
        if not flags.no_init:
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
        if flags.drop_every and isinstance(value, int) and value % flags.drop_every == flags.drop_every - 1:
            return
        if value not in values:
            values.add(value)
            targets = neighbours if neighbours is not None else node_ids
            for peer in targets:
                if peer not in (message["src"], node_id):
                    write(peer, {"type": "broadcast", "message": value})
            if flags.unknown_dest:
                write("n999", {"type": "broadcast", "message": value})
    elif kind == "read":
        reply(message, {"type": "read_ok", "messages": sorted(values, key=sort_key)})
    elif kind in ("broadcast_ok", "topology_ok", "read_ok"):
        pass
    else:
        reply(message, {"type": "error", "code": 10, "text": "unsupported type %r" % kind})


handled = 0
for line in sys.stdin:
    try:
        message = json.loads(line)
    except ValueError:
        sys.stderr.write("not JSON: %s" % line)
        continue
    handle(message)
    handled += 1
    if flags.crash_after and handled >= flags.crash_after:
        sys.stderr.write("crashing on purpose after %d messages\n" % handled)
        sys.exit(3)

while flags.ignore_eof:
    time.sleep(1)
