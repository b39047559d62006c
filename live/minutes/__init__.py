"""Shared minutes, live: the sync sockets (`sockets`), the relay between an instance's
sockets and the other instances (`relay`), batched storing (`writing`), who may open which
document (`access`), and the y-websocket messages (`protocol`)."""
