"""Chat delivery with 500 connected Socket.IO clients on one web process.

Starts the production web command (gunicorn, ``gthread``, one worker, enough
threads for every socket: in threading mode each websocket holds a thread),
connects ``--clients`` python-socketio clients over websockets with API
tokens (half buyers, half sellers, one conversation per pair, every client
joined to its conversation), then measures:

1. paced: every buyer sends one message per ``--interval`` seconds for
   ``--duration`` seconds; latency = buyer's emit -> seller's ``message`` event;
2. closed loop: every buyer sends its next message as soon as the previous ack
   arrives, for ``--duration`` seconds: the process's ceiling in messages/s.

Each message goes the whole way: socket event -> tenant binding -> participant
check -> INSERT + outbox event + unread counters -> commit -> Redis publish ->
the process's pub/sub listener -> websocket frame to the other participant.

    .venv/bin/python -m bench.chat_latency [--clients 500] [--duration 10]
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import sys
import threading
import time

from bench._common import Services, add_service_args, environment, make_app, percentile, print_table, record
from bench.request_throughput import Server, ensure_tenant

PASSWORD = "bench-password-123"  # noqa: S105  (bench accounts only)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.chat_latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500, help="connected sockets (even)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument(
        "--interval", type=float, default=2.0, help="paced phase: seconds between a buyer's messages"
    )
    parser.add_argument("--tenant", default="acme")
    add_service_args(parser)
    args = parser.parse_args(argv)
    args.workers = 1
    args.threads = args.clients + 100
    return args


def prepare_users(tenant_slug: str, pairs: int) -> list[tuple[str, str, int]]:
    """``pairs`` (buyer token, seller token, conversation id) in the tenant, created once and reused."""
    from app.accounts.models import User
    from app.accounts.services import create_user
    from app.accounts.tokens import issue_token_pair
    from app.messaging.services import start_direct_conversation
    from tenants.db import db, tenant_context
    from tenants.resolver import get_tenant_by_slug

    out = []
    with tenant_context(get_tenant_by_slug(tenant_slug)):
        for i in range(pairs):
            users = []
            for role in ("buyer", "seller"):
                email = f"bench-chat-{role}-{i}@example.com"
                user = db.session.scalars(db.select(User).where(User.email == email)).first()
                users.append(user or create_user(email, PASSWORD, f"Bench {role} {i}"))
            db.session.flush()
            conversation = start_direct_conversation(users[0], users[1])
            tokens = [issue_token_pair(u)["access_token"] for u in users]
            out.append((tokens[0], tokens[1], conversation.id))
        db.session.commit()
    return out


class Pair:
    def __init__(self, port: int, host: str, buyer_token: str, seller_token: str, cid: int):
        import socketio

        self.cid = cid
        self.latencies: list[float] = []
        self.received = 0
        self.errors = 0
        self.sent_at: dict[str, float] = {}
        self.lock = threading.Lock()
        options = {"host": host, "origin": f"http://{host}"}
        self.buyer = socketio.Client(reconnection=False, websocket_extra_options=options)
        self.seller = socketio.Client(reconnection=False, websocket_extra_options=options)
        self.seller.on("message", self._on_message)
        for client, token in ((self.buyer, buyer_token), (self.seller, seller_token)):
            client.connect(
                f"http://127.0.0.1:{port}", auth={"token": token}, transports=["websocket"], wait_timeout=30
            )
            if not client.call("join", {"conversation_id": cid}, timeout=30).get("ok"):
                raise RuntimeError("join refused")
        self.measuring = False

    def _on_message(self, message):
        now = time.perf_counter()
        with self.lock:
            started = self.sent_at.pop(message["body"], None)
            if started is not None and self.measuring:
                self.latencies.append(now - started)
                self.received += 1

    def send(self, n: int, *, wait: bool) -> None:
        body = f"{self.cid}:{n}:{time.perf_counter_ns()}"
        with self.lock:
            self.sent_at[body] = time.perf_counter()
        payload = {"conversation_id": self.cid, "body": body}
        if wait:
            try:
                if not self.buyer.call("send_message", payload, timeout=30).get("ok"):
                    self.errors += 1
            except Exception:
                self.errors += 1
        else:
            self.buyer.emit("send_message", payload)

    def close(self) -> None:
        for client in (self.buyer, self.seller):
            with contextlib.suppress(Exception):
                client.disconnect()


def run_phase(pairs: list[Pair], duration: float, *, interval: float | None) -> dict:
    for pair in pairs:
        pair.latencies.clear()
        pair.received = 0
        pair.errors = 0
        pair.measuring = True
    stop = time.perf_counter() + duration

    def paced(pair: Pair, offset: float) -> None:
        n = 0
        next_at = time.perf_counter() + offset
        while next_at < stop:
            time.sleep(max(0.0, next_at - time.perf_counter()))
            pair.send(n, wait=False)
            n += 1
            next_at += interval

    def closed(pair: Pair) -> None:
        n = 0
        while time.perf_counter() < stop:
            pair.send(n, wait=True)
            n += 1

    threads = []
    for i, pair in enumerate(pairs):
        target = (
            (lambda p=pair, o=(i / len(pairs)) * interval: paced(p, o))
            if interval
            else (lambda p=pair: closed(p))
        )
        threads.append(threading.Thread(target=target, daemon=True))
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(2.0)  # let in-flight messages land
    elapsed = time.perf_counter() - started - 2.0
    for pair in pairs:
        pair.measuring = False
    latencies = [x for p in pairs for x in p.latencies]
    lost = sum(len(p.sent_at) for p in pairs)
    for p in pairs:
        p.sent_at.clear()
    return {
        "delivered": len(latencies),
        "lost_or_late": lost,
        "errors": sum(p.errors for p in pairs),
        "msgs_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000 if latencies else None,
        "p99_ms": percentile(latencies, 99) * 1000 if latencies else None,
        "max_ms": max(latencies) * 1000 if latencies else None,
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8192)), hard))
    services = Services(args)
    app = make_app(services, "cheap")
    with app.app_context():
        from bench._common import ensure_public_schema
        from tenants.db import db

        ensure_public_schema()
        ensure_tenant(args.tenant)
        from tenants.migrations import migrate_all

        migrate_all(jobs=1, slug=args.tenant)  # the bench database may predate the messaging tables
        env = environment(services)
        print(f"preparing {args.clients // 2} conversations...", flush=True)
        prepared = prepare_users(args.tenant, args.clients // 2)
        db.engine.dispose()
    server = Server(services, args, LOG_LEVEL="WARNING")
    host = f"{args.tenant}.localhost:{server.port}"
    pairs: list[Pair] = []
    try:
        started = time.perf_counter()
        for buyer_token, seller_token, cid in prepared:
            pairs.append(Pair(server.port, host, buyer_token, seller_token, cid))
        connect_s = time.perf_counter() - started
        print(
            f"{len(pairs) * 2} clients connected and joined in {connect_s:.1f} s ({server.command})",
            flush=True,
        )
        paced = run_phase(pairs, args.duration, interval=args.interval)
        closed = run_phase(pairs, args.duration, interval=None)
    finally:
        for pair in pairs:
            pair.close()
        server.stop()
    rows = [
        ["paced", f"{len(pairs) / args.interval:.0f}/s offered", *_cells(paced)],
        ["closed loop", f"{len(pairs)} senders", *_cells(closed)],
    ]
    print()
    print_table(
        ["phase", "load", "delivered", "lost", "errors", "msgs/s", "p50 ms", "p99 ms", "max ms"], rows
    )
    print(f"async mode: threading (simple-websocket), {server.command}")
    path = record(
        "chat_latency",
        argv,
        {
            "environment": env,
            "server_command": server.command,
            "async_mode": "threading",
            "clients": len(pairs) * 2,
            "connect_seconds": connect_s,
            "paced": paced,
            "closed_loop": closed,
        },
    )
    print(f"results appended to {path}")
    return 0 if paced["errors"] == 0 and closed["errors"] == 0 else 1


def _cells(result: dict) -> list:
    return [
        result["delivered"],
        result["lost_or_late"],
        result["errors"],
        round(result["msgs_per_s"], 1),
        round(result["p50_ms"], 1) if result["p50_ms"] is not None else "-",
        round(result["p99_ms"], 1) if result["p99_ms"] is not None else "-",
        round(result["max_ms"], 1) if result["max_ms"] is not None else "-",
    ]


if __name__ == "__main__":
    sys.exit(main())
