# A learner's stage 01 handlers, as the README's walkthrough writes them into the starter
# (xtask/tests/commands/walkthrough.rs puts them in place of the starter's handlers).
# Your node's state goes here.
neighbours = []
values = set()


def on_init():
    pass


node.on_init = on_init


@node.handler("topology", fields=["topology"])
def on_topology(msg):
    global neighbours
    neighbours = msg["body"]["topology"].get(node.node_id, [])
    node.reply(msg, {"type": "topology_ok"})


@node.handler("broadcast", fields=["message"])
def on_broadcast(msg):
    value = msg["body"]["message"]
    if msg["src"] not in node.node_ids:
        node.reply(msg, {"type": "broadcast_ok"})
    if value in values:
        return
    values.add(value)
    for peer in neighbours:
        if peer != msg["src"]:
            node.send(peer, {"type": "broadcast", "message": value})


@node.handler("read")
def on_read(msg):
    node.reply(msg, {"type": "read_ok", "messages": sorted(values, key=lambda v: (isinstance(v, str), v))})


if __name__ == "__main__":
    node.run()
