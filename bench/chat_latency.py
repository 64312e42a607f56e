"""Chat delivery with 500 connected Socket.IO clients on one web process.

Starts the production web command (gunicorn, ``gthread``, one worker, enough
threads for every socket: in threading mode each websocket holds a thread),
connects ``--clients`` python-socketio clients over websockets with API
tokens (half buyers, half sellers, one conversation per pair, every client
joined to its conversation), then measures:

0. warm-up (``--warmup`` seconds, unmeasured): the paced load, so that every conversation's first
   message (its rows and the process's caches read cold) is not in the measured phases;
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
import asyncio
import contextlib
import resource
import sys
import time
from datetime import UTC, datetime

from bench._common import Services, add_service_args, environment, make_app, percentile, print_table, record
from bench.request_throughput import Server, ensure_tenant

PASSWORD = "bench-password-123"  # noqa: S105  (bench accounts only)
# Every message still spends its sender's budget (the Redis call is measured); the budget is
# raised so that the closed loop measures delivery, not refusals.
SERVER_ENV = {"LOG_LEVEL": "WARNING", "RATELIMIT_MESSAGES": "1000000/minute"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.chat_latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500, help="connected sockets (even)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument(
        "--interval", type=float, default=2.0, help="paced phase: seconds between a buyer's messages"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=4.0,
        help="unmeasured paced seconds first (0: none; the first message of each conversation is cold)",
    )
    parser.add_argument("--tenant", default="acme")
    parser.add_argument(
        "--server",
        choices=("gthread", "gevent"),
        default="gthread",
        help="gthread: the Procfile's web command; gevent: the realtime command (one greenlet per socket)",
    )
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
    verified = datetime.now(UTC)
    with tenant_context(get_tenant_by_slug(tenant_slug)):
        for i in range(pairs):
            users = []
            for role in ("buyer", "seller"):
                email = f"bench-chat-{role}-{i}@example.com"
                user = db.session.scalars(db.select(User).where(User.email == email)).first()
                user = user or create_user(email, PASSWORD, f"Bench {role} {i}")
                user.email_verified_at = user.email_verified_at or verified  # chat needs a confirmed address
                users.append(user)
            db.session.flush()
            conversation = start_direct_conversation(users[0], users[1])
            tokens = [issue_token_pair(u)["access_token"] for u in users]
            out.append((tokens[0], tokens[1], conversation.id))
        db.session.commit()
    return out


class Pair:
    """A buyer and a seller of one conversation: ``socketio.AsyncClient``s on the bench's one
    event loop (500 clients cost a loop, not 1,500 threads, so the clients leave the machine's
    CPU to the server they measure)."""

    def __init__(self, host: str, buyer_token: str, seller_token: str, cid: int):
        import socketio

        self.cid = cid
        self.host = host
        self.tokens = (buyer_token, seller_token)
        self.latencies: list[float] = []
        self.errors = 0
        self.sent_at: dict[str, float] = {}
        self.measuring = False
        self.buyer = socketio.AsyncClient(reconnection=False)
        self.seller = socketio.AsyncClient(reconnection=False)
        self.seller.on("message", self._on_message)

    async def connect(self, port: int) -> None:
        for client, token in zip((self.buyer, self.seller), self.tokens, strict=True):
            await client.connect(
                f"http://127.0.0.1:{port}",
                headers={"Host": self.host},
                auth={"token": token},
                transports=["websocket"],
                wait_timeout=60,
            )
            if not (await client.call("join", {"conversation_id": self.cid}, timeout=60)).get("ok"):
                raise RuntimeError("join refused")

    async def _on_message(self, message):
        started = self.sent_at.pop(message["body"], None)
        if started is not None and self.measuring:
            self.latencies.append(time.perf_counter() - started)

    async def send(self, n: int, *, wait: bool) -> None:
        body = f"{self.cid}:{n}:{time.perf_counter_ns()}"
        self.sent_at[body] = time.perf_counter()
        payload = {"conversation_id": self.cid, "body": body}
        try:
            if wait:
                if not (await self.buyer.call("send_message", payload, timeout=30)).get("ok"):
                    self.errors += 1
            else:
                await self.buyer.emit("send_message", payload)
        except Exception:
            self.errors += 1

    async def close(self) -> None:
        for client in (self.buyer, self.seller):
            with contextlib.suppress(Exception):
                await client.disconnect()


async def connect_all(pairs: list[Pair], port: int, *, at_once: int = 50) -> None:
    for start in range(0, len(pairs), at_once):
        await asyncio.gather(*(pair.connect(port) for pair in pairs[start : start + at_once]))


async def run_phase(pairs: list[Pair], duration: float, *, interval: float | None) -> dict:
    for pair in pairs:
        pair.latencies.clear()
        pair.errors = 0
        pair.measuring = True
    stop = time.perf_counter() + duration

    async def paced(pair: Pair, offset: float) -> None:
        n = 0
        next_at = time.perf_counter() + offset
        while next_at < stop:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            await pair.send(n, wait=False)
            n += 1
            next_at += interval

    async def closed(pair: Pair) -> None:
        n = 0
        while time.perf_counter() < stop:
            await pair.send(n, wait=True)
            n += 1

    started = time.perf_counter()
    await asyncio.gather(
        *(
            paced(pair, (i / len(pairs)) * interval) if interval else closed(pair)
            for i, pair in enumerate(pairs)
        )
    )
    await asyncio.sleep(2.0)  # let in-flight messages land
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


async def measure(prepared: list[tuple[str, str, int]], port: int, host: str, args) -> tuple:
    pairs = [Pair(host, buyer, seller, cid) for buyer, seller, cid in prepared]
    try:
        started = time.perf_counter()
        await connect_all(pairs, port)
        connect_s = time.perf_counter() - started
        print(f"{len(pairs) * 2} clients connected and joined in {connect_s:.1f} s", flush=True)
        if args.warmup > 0:
            warm = await run_phase(pairs, args.warmup, interval=args.interval)
            print(
                f"warm-up ({args.warmup:.0f} s, unmeasured): {warm['delivered']} delivered, "
                f"p50 {warm['p50_ms'] or 0:.1f} ms, p99 {warm['p99_ms'] or 0:.0f} ms",
                flush=True,
            )
        paced = await run_phase(pairs, args.duration, interval=args.interval)
        closed = await run_phase(pairs, args.duration, interval=None)
    finally:
        await asyncio.gather(*(pair.close() for pair in pairs))
    return len(pairs), connect_s, paced, closed


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
    if args.server == "gevent":
        worker_args = ("--worker-class", "gevent", "--worker-connections", str(args.clients + 100))
        server = Server(
            services, args, worker_args=worker_args, LOG_LEVEL="WARNING", SOCKETIO_ASYNC_MODE="gevent"
        )
    else:
        server = Server(services, args, LOG_LEVEL="WARNING")
    host = f"{args.tenant}.localhost:{server.port}"
    print(server.command, flush=True)
    try:
        n_pairs, connect_s, paced, closed = asyncio.run(measure(prepared, server.port, host, args))
    finally:
        server.stop()
    rows = [
        ["paced", f"{n_pairs / args.interval:.0f}/s offered", *_cells(paced)],
        ["closed loop", f"{n_pairs} senders", *_cells(closed)],
    ]
    print()
    print_table(
        ["phase", "load", "delivered", "lost", "errors", "msgs/s", "p50 ms", "p99 ms", "max ms"], rows
    )
    mode = "gevent" if args.server == "gevent" else "threading"
    print(f"async mode: {mode} (simple-websocket), {server.command}")
    path = record(
        "chat_latency",
        argv,
        {
            "environment": env,
            "server_command": server.command,
            "async_mode": mode,
            "clients": n_pairs * 2,
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
