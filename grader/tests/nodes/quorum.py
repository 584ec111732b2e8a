#!/usr/bin/env python3
"""A broadcast node that survives kills, in plain Python (standard library only).

Written for Gossiper's own tests of the nemesis. A client's broadcast is acknowledged only once
a majority of the nodes hold the value (the node re-sends `replicate` to peers that have not
answered, every 200 ms), and every 200 ms each node pushes its whole set to one random peer.
A kill restarts at most a minority empty, so an acknowledged value always survives somewhere and
anti-entropy brings it back everywhere; a pause or a partition only delays it.
"""
import json
import os
import random
import select
import sys
import time

TICK = 0.2
node_id = None
node_ids = []
values = set()
pending = {}  # value -> (the client's request, peers that acknowledged, when it started)
next_msg_id = 0
random.seed(int(os.environ.get("GOSSIP_SEED", "0")))


def write(dest, body):
    global next_msg_id
    body["msg_id"] = next_msg_id
    next_msg_id += 1
    sys.stdout.write(json.dumps({"src": node_id, "dest": dest, "body": body}) + "\n")
    sys.stdout.flush()


def reply(request, body):
    body["in_reply_to"] = request["body"]["msg_id"]
    write(request["src"], body)


def peers():
    return [peer for peer in node_ids if peer != node_id]


def majority():
    return len(node_ids) // 2 + 1


def replicate(value):
    _, acked, _ = pending[value]
    for peer in peers():
        if peer not in acked:
            write(peer, {"type": "replicate", "value": value})


def handle(message):
    global node_id, node_ids
    body = message["body"]
    kind = body.get("type")
    if kind == "init":
        node_id, node_ids = body["node_id"], body["node_ids"]
        reply(message, {"type": "init_ok"})
    elif kind == "topology":
        reply(message, {"type": "topology_ok"})
    elif kind == "broadcast":
        value = body["message"]
        values.add(value)
        if majority() <= 1:
            reply(message, {"type": "broadcast_ok"})
        else:
            pending[value] = (message, set(), time.monotonic())
            replicate(value)
    elif kind == "replicate":
        values.add(body["value"])
        reply(message, {"type": "replicate_ok", "value": body["value"]})
    elif kind == "replicate_ok":
        entry = pending.get(body["value"])
        if entry is not None:
            entry[1].add(message["src"])
            if len(entry[1]) + 1 >= majority():
                reply(entry[0], {"type": "broadcast_ok"})
                del pending[body["value"]]
    elif kind == "sync":
        values.update(body["values"])
    elif kind == "read":
        ordered = sorted(values, key=lambda v: (isinstance(v, str), v))
        reply(message, {"type": "read_ok", "messages": ordered})


def tick():
    now = time.monotonic()
    for value in list(pending):
        if now - pending[value][2] > 5:
            del pending[value]  # the client has given up on it
        else:
            replicate(value)
    if values and peers():
        write(random.choice(peers()), {"type": "sync", "values": sorted(values, key=str)})


def main():
    buffered = b""
    next_tick = time.monotonic() + TICK
    while True:
        wait = max(0.0, next_tick - time.monotonic())
        ready, _, _ = select.select([sys.stdin], [], [], wait)
        if ready:
            chunk = os.read(sys.stdin.fileno(), 65536)
            if not chunk:
                return
            buffered += chunk
            while b"\n" in buffered:
                line, buffered = buffered.split(b"\n", 1)
                if line.strip():
                    handle(json.loads(line))
        if node_id is not None and time.monotonic() >= next_tick:
            tick()
            next_tick = time.monotonic() + TICK


main()
