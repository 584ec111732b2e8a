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
  --fork-holding-stdout   fork a child that keeps stdout open, sleeping 40 s, at start
  --escapee         start a grandchild that leaves the process group (setsid) and sleeps 60 s
  --spoof-src ID    write forwarded values with `src` ID instead of its own id
  --extra-key-ok    answer broadcast with broadcast_ok carrying an extra key
  --null-messages   answer read with "messages": null
  --bad-in-reply-to answer reads with an in_reply_to that matches nothing
  --ignore-reads    never answer read
  --topology-extra  answer topology with topology_ok carrying an extra key
  --close-stdout-after N  close stdout after handling N messages, and keep running
  --nul-garbage     write a line holding NUL bytes to stdout at start
  --invent          never forward, and answer every read with 0..4999
  --maelstrom-ids   number messages as Maelstrom's libraries may: init_ok without a msg_id,
                    the others from 1
  --reuse-ids       every message it writes carries msg_id 1
Every pid it starts is written to stderr as `pid N`.
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
flags.add_argument("--fork-holding-stdout", action="store_true")
flags.add_argument("--escapee", action="store_true")
flags.add_argument("--spoof-src", default=None)
flags.add_argument("--extra-key-ok", action="store_true")
flags.add_argument("--null-messages", action="store_true")
flags.add_argument("--bad-in-reply-to", action="store_true")
flags.add_argument("--ignore-reads", action="store_true")
flags.add_argument("--topology-extra", action="store_true")
flags.add_argument("--close-stdout-after", type=int, default=0)
flags.add_argument("--nul-garbage", action="store_true")
flags.add_argument("--invent", action="store_true")
flags.add_argument("--maelstrom-ids", action="store_true")
flags.add_argument("--reuse-ids", action="store_true")
flags = flags.parse_args()
sys.stderr.write("pid %d\n" % os.getpid())
sys.stderr.flush()
if flags.fork_holding_stdout:
    child = os.fork()
    if child == 0:
        time.sleep(40)
        os._exit(0)
    sys.stderr.write("pid %d\n" % child)
    sys.stderr.flush()
if flags.escapee:
    child = os.fork()
    if child == 0:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        time.sleep(60)
        os._exit(0)
    sys.stderr.write("pid %d\n" % child)
    sys.stderr.flush()
if flags.nul_garbage:
    sys.stdout.write("before\x00after\n")
    sys.stdout.flush()

node_id = None
node_ids = []
neighbours = None
values = set()
next_msg_id = 0


def write(dest, body, src=None):
    global next_msg_id
    if flags.reuse_ids:
        body["msg_id"] = 1
    elif flags.maelstrom_ids and body.get("type") == "init_ok":
        next_msg_id = 1
    else:
        body["msg_id"] = next_msg_id
        next_msg_id += 1
    sys.stdout.write(json.dumps({"src": src or node_id, "dest": dest, "body": body}) + "\n")
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
        if flags.topology_extra:
            reply(message, {"type": "topology_ok", "note": "extra"})
        else:
            reply(message, {"type": "topology_ok"})
    elif kind == "broadcast":
        if "message" not in body:
            reply(message, {"type": "error", "code": 12, "text": "broadcast needs a message"})
            return
        value = body["message"]
        if message["src"] not in node_ids:
            if flags.extra_key_ok:
                reply(message, {"type": "broadcast_ok", "extra": True})
            else:
                reply(message, {"type": "broadcast_ok"})
        if flags.invent:
            return
        if flags.drop_every and isinstance(value, int) and value % flags.drop_every == flags.drop_every - 1:
            return
        if value not in values:
            values.add(value)
            targets = neighbours if neighbours is not None else node_ids
            for peer in targets:
                if peer not in (message["src"], node_id):
                    write(peer, {"type": "broadcast", "message": value}, flags.spoof_src)
            if flags.unknown_dest:
                write("n999", {"type": "broadcast", "message": value})
    elif kind == "read":
        if flags.ignore_reads:
            return
        if flags.invent:
            reply(message, {"type": "read_ok", "messages": list(range(5000))})
        elif flags.null_messages:
            reply(message, {"type": "read_ok", "messages": None})
        elif flags.bad_in_reply_to:
            write(message["src"], {"type": "read_ok", "in_reply_to": 424242, "messages": []})
        else:
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
    if flags.close_stdout_after and handled == flags.close_stdout_after:
        sys.stderr.write("closing stdout on purpose\n")
        sys.stderr.flush()
        os.close(1)
        sys.stdout = open(os.devnull, "w")

while flags.ignore_eof:
    time.sleep(1)
