#!/usr/bin/env python3
"""Crash test: a SIGKILL never loses or duplicates an acknowledged payment.

Run on purpose, not part of `cargo test`. Standard library only (PostgreSQL is read with psql).

Usage (from the repository root):

    python3 bench/crash/crash_test.py                       # both backends
    python3 bench/crash/crash_test.py --backend sqlite      # or: postgres
    python3 bench/crash/crash_test.py --binary target/release/tessera --kills 8 --seed 7

Without --binary it uses $CARGO_TARGET_DIR/release/tessera (default
~/.cache/tessera-target/release/tessera) and builds it first with
`cargo build --release -p tessera` when it is missing (or always, with --build).

Per backend (SQLite: a file in a temporary directory; PostgreSQL: a fresh database made with
`psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE ...'` and dropped afterwards):

1. starts `tessera serve --listen 127.0.0.1:<free port>` (TESSERA_JOBS_WORKER=false, TESSERA_LOG=warn,
   login rate limits raised so the set-up's logins from one address are not refused);
2. over the HTTP API: an organizer, a seated event (--seats, price 10.00, --max-per-person), and
   --buyers x --accounts buyer accounts, each registered, logged in and topped up twice (POST
   /balance with an Idempotency-Key). An account may buy only --max-per-person (at most 100) seats
   and 60 unthrottled clients buy ~1000 a second on SQLite, so each buyer has several accounts to
   keep the burst going until the last kill;
3. burst: one client thread per buyer (--buyers), each repeatedly holding the best available seat
   (POST /reservations {event_id, quantity: 1}) and paying it (POST /payments {reservation_id}, a
   fresh Idempotency-Key per payment), with an occasional small top-up (also keyed). Every
   acknowledged answer (201 payment / 200 top-up, with its body) is recorded, and so is every
   request whose answer never arrived (connection reset or closed after the request was sent),
   with its key and reservation. A request that could not even connect (server down) was never
   sent and is retried as it was (same key);
4. meanwhile SIGKILLs the server --kills times, --kill-min..--kill-max seconds apart (counted from
   the previous recovery), restarting it on the same database each time and timing kill -> GET
   /health 200; the clients carry on against the restarted server;
5. after the last restart (+ --tail seconds) the burst stops and the database is read directly
   (sqlite3 / psql) and checked:
     - every acknowledged payment exists, successful, with its purchase and exactly its tickets,
       all valid, on the seats the answer named; its reservation is completed; its key is recorded;
     - no two acknowledgements name the same payment, purchase, reservation or ticket;
     - every payment has one purchase, one ledger debit of its amount and one Idempotency-Key record
       (and vice versa); every purchase has ticket_quantity valid tickets;
     - no seat has more than one valid ticket; sold seats == seats with a valid ticket;
     - every user's balance == the sum of their ledger amounts; no balance is negative;
     - every top-up ledger entry has its key record and every acknowledged top-up its entry;
   then, with the server still up, every acknowledged payment and top-up is resent with its key
   (same payment_id, purchase, tickets / same balance answered, balance unchanged,
   `Idempotent-Replayed: true`), and every lost one too: one found committed in the database must
   replay as the original; one that never committed may have any fresh outcome (counted). The
   database is then checked again (the replays added exactly the fresh outcomes, nothing else).
6. prints a summary table per backend and writes it to bench/results/crash-latest.md; exits 1 if
   any check failed (2 on a set-up error).

The script changes nothing outside its temporary directory, the database it creates and
bench/results/crash-latest.md.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import csv
import datetime
import http.client
import io
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from decimal import Decimal

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
RESULTS = os.path.join(REPO, "bench", "results", "crash-latest.md")
PASSWORD = "crash-test-password"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def minor(amount: str) -> int:
    """A decimal money string ("10.00") as integer minor units."""
    return int((Decimal(amount) * 100).to_integral_value())


def norm_id(v) -> str | None:
    """A UUID from SQLite (16-byte BLOB) or PostgreSQL (text) as canonical text."""
    if v is None or v == "":
        return None
    if isinstance(v, (bytes, bytearray, memoryview)):
        return str(uuid.UUID(bytes=bytes(v)))
    return str(uuid.UUID(str(v)))


# --------------------------------------------------------------------------------------------
# The server under test


class Server:
    """One `tessera serve` process at a time on a fixed port and database."""

    def __init__(self, binary: str, db_url: str, workdir: str, port: int):
        self.binary, self.db_url, self.workdir, self.port = binary, db_url, workdir, port
        self.proc: subprocess.Popen | None = None
        self.gen = 0  # bumped at every kill: clients drop connections of an older generation
        self.starts = 0
        self.log_path = os.path.join(workdir, "server.log")
        # Configured as in production (otherwise every start warns that none is set); the same
        # key for every restart.
        self.master_key = os.urandom(32).hex()

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("TESSERA_") and k != "DATABASE_URL"}
        env.update({
            "DATABASE_URL": self.db_url,
            "TESSERA_JOBS_WORKER": "false",
            "TESSERA_LOG": "warn",
            "TESSERA_LOG_FORMAT": "json",
            "TESSERA_TICKET_MASTER_KEY": self.master_key,
            "TESSERA_MAIL_OUTBOX": os.path.join(self.workdir, "outbox"),
            # The set-up logs every buyer in from 127.0.0.1, and clients log in again on a 401.
            "TESSERA_LOGIN_LIMIT_PER_IP": "1000000",
            "TESSERA_LOGIN_LIMIT_PER_EMAIL": "1000000",
            # Load shedding off, as for the benchmarks (bench/src/main.rs's NO_SHEDDING): these
            # clients do not back off on a 503, and the set-up's top-ups were being shed.
            "TESSERA_SHED_MAX_LAG_MS": "0",
            "TESSERA_CONCURRENCY_READS": "1000000",
            "TESSERA_CONCURRENCY_WRITES": "1000000",
            "TESSERA_CONCURRENCY_LOGINS": "1000000",
        })
        return env

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None
        self.starts += 1
        with open(self.log_path, "a") as f:
            f.write(f"\n===== start #{self.starts} at {time.time():.3f} =====\n")
        logf = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}"],
            cwd=self.workdir, env=self.env(), stdout=logf, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        logf.close()

    def log_tail(self, n: int = 30) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def log_summary(self) -> tuple[collections.Counter, list[str]]:
        """Lines of the server's log by level (JSON lines; anything else, e.g. a panic, is 'other')."""
        levels, samples = collections.Counter(), []
        try:
            with open(self.log_path, errors="replace") as f:
                lines = f.readlines()
        except OSError:
            return levels, samples
        for line in lines:
            line = line.strip()
            if not line or line.startswith("===== start"):
                continue
            try:
                j = json.loads(line)
                level = str(j.get("level", "?")).upper()
                msg = str(j.get("fields", {}).get("message", line))
            except ValueError:
                level, msg = "OTHER", line
            levels[level] += 1
            if msg[:200] not in samples and len(samples) < 5:
                samples.append(msg[:200])
        return levels, samples

    def healthy(self) -> bool:
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            c.request("GET", "/health")
            r = c.getresponse()
            r.read()
            c.close()
            return r.status == 200
        except (OSError, http.client.HTTPException):
            return False

    def wait_healthy(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.healthy():
                return
            time.sleep(0.005)
        raise RuntimeError(f"server not healthy after {timeout}s:\n{self.log_tail()}")

    def kill(self) -> None:
        self.gen += 1
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


# --------------------------------------------------------------------------------------------
# HTTP


class NotSent(Exception):
    """The connection could not be made: the request never left (safe to resend as it was)."""


class Lost(Exception):
    """The request was (or may have been) sent, and no answer arrived."""


Resp = collections.namedtuple("Resp", "status headers body raw")


class InFlight:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.payments = 0

    def add(self, payment: bool, d: int) -> None:
        with self.lock:
            self.requests += d
            if payment:
                self.payments += d


class Client:
    """A keep-alive HTTP/1.1 client that reconnects after a server restart."""

    def __init__(self, server: Server, inflight: InFlight | None = None, timeout: float = 60.0):
        self.server, self.inflight, self.timeout = server, inflight, timeout
        self.conn: http.client.HTTPConnection | None = None
        self.gen = -1
        self.token: str | None = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def request(self, method: str, path: str, body=None, headers: dict | None = None,
                auth: bool = True) -> Resp:
        if self.conn is not None and self.gen != self.server.gen:
            self.close()
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=self.timeout)
            self.gen = self.server.gen
        if self.conn.sock is None:
            try:
                self.conn.connect()
            except OSError as e:
                self.close()
                raise NotSent(repr(e)) from None
        h = {"accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["content-type"] = "application/json"
        if auth and self.token:
            h["authorization"] = f"Bearer {self.token}"
        if headers:
            h.update(headers)
        is_payment = path == "/payments"
        if self.inflight:
            self.inflight.add(is_payment, 1)
        try:
            self.conn.request(method, path, body=data, headers=h)
            r = self.conn.getresponse()
            raw = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise Lost(repr(e)) from None
        finally:
            if self.inflight:
                self.inflight.add(is_payment, -1)
        if r.will_close:
            self.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, parsed, raw)

    def call(self, method: str, path: str, body=None, headers=None, auth=True, tries=3000) -> Resp:
        """For the set-up and the checks: resend until connected (the server is up)."""
        for _ in range(tries):
            try:
                return self.request(method, path, body, headers, auth)
            except NotSent:
                time.sleep(0.02)
        raise RuntimeError(f"{method} {path}: server unreachable")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --------------------------------------------------------------------------------------------
# Databases


class Db:
    TABLES = {
        "users": "SELECT user_id, balance FROM users",
        "ledger": "SELECT entry_id, user_id, amount, kind, reference_id FROM balance_ledger",
        "payments": "SELECT payment_id, reservation_id, user_id, amount, payment_status FROM payments",
        "purchases": "SELECT purchase_id, reservation_id, user_id, event_id, ticket_quantity, "
                     "total_price, status FROM purchases",
        "tickets": "SELECT ticket_id, purchase_id, event_id, user_id, seat_number, status FROM tickets",
        "seats": "SELECT event_id, seat_number, status, reservation_id FROM seats",
        "reservations": "SELECT reservation_id, user_id, status, quantity, amount FROM reservations",
        "keys": "SELECT user_id, idem_key, payment_id, kind FROM idempotency_keys",
    }
    ID_COLS = {"user_id", "entry_id", "reference_id", "payment_id", "reservation_id", "purchase_id",
               "event_id", "ticket_id"}
    INT_COLS = {"balance", "amount", "ticket_quantity", "total_price", "seat_number", "quantity"}

    def fetch(self, sql: str) -> list[dict]:
        raise NotImplementedError

    def snapshot(self) -> dict[str, list[dict]]:
        out = {}
        for name, sql in self.TABLES.items():
            rows = []
            for r in self.fetch(sql):
                row = {}
                for k, v in r.items():
                    if k in self.ID_COLS:
                        v = norm_id(v)
                    elif k in self.INT_COLS:
                        v = None if v is None or v == "" else int(v)
                    row[k] = v
                rows.append(row)
            out[name] = rows
        return out


class SqliteDb(Db):
    def __init__(self, path: str):
        self.path = path
        self.url = f"sqlite://{path}"

    def fetch(self, sql: str) -> list[dict]:
        con = sqlite3.connect(self.path, timeout=60)
        try:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute(sql)]
        finally:
            con.close()

    def drop(self) -> None:
        pass


def psql(args: list[str], db: str = "postgres", check: bool = True) -> str:
    r = subprocess.run(["psql", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", db, "-X", "-q",
                        "-v", "ON_ERROR_STOP=1", *args], capture_output=True, text=True,
                       env={**os.environ, "PGCONNECT_TIMEOUT": "10"})
    if check and r.returncode != 0:
        raise RuntimeError(f"psql {args}: {r.stderr.strip()}")
    return r.stdout


class PostgresDb(Db):
    def __init__(self):
        self.name = f"tessera_crash_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        psql(["-c", f'CREATE DATABASE "{self.name}"'])
        self.url = f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.name}"

    def fetch(self, sql: str) -> list[dict]:
        # UUIDs and numbers come back as text; Db.snapshot normalises them.
        out = psql(["-c", f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)"], db=self.name)
        return list(csv.DictReader(io.StringIO(out)))

    def drop(self) -> None:
        psql(["-c", f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'], check=False)


# --------------------------------------------------------------------------------------------
# The run


class Record:
    """What the clients saw: every acknowledged and every lost payment and top-up."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked_payments: list[dict] = []   # {user, key, rid, body}
        self.lost_payments: list[dict] = []    # {user, key, rid, why}
        self.acked_topups: list[dict] = []     # {user, key, amount, balance}
        self.lost_topups: list[dict] = []      # {user, key, amount, why}
        self.fresh_payments: list[dict] = []   # lost, never committed, paid by the replay
        self.outcomes = collections.Counter()  # (op, status/code) -> n
        self.notes: list[str] = []
        self.sold_out = False

    def add(self, kind: str, item: dict) -> None:
        with self.lock:
            getattr(self, kind).append(item)

    def count(self, op: str, what) -> None:
        with self.lock:
            self.outcomes[(op, str(what))] += 1


def problem_code(r: Resp) -> str:
    if isinstance(r.body, dict) and r.body.get("code"):
        return f"{r.status} {r.body['code']}"
    return str(r.status)


class Buyer:
    def __init__(self, idx: int, email: str, user_id: str):
        self.idx, self.email, self.user_id = idx, email, user_id
        self.token: str | None = None


def login(c: Client, email: str) -> str:
    r = c.call("POST", "/auth/login", {"email": email, "password": PASSWORD}, auth=False)
    if r.status != 200:
        raise RuntimeError(f"login {email}: {r.status} {r.raw[:300]!r}")
    c.token = r.body["access_token"]
    return c.token


def register(c: Client, name: str, email: str, role: str | None = None) -> str:
    body = {"name": name, "email": email, "password": PASSWORD}
    if role:
        body["role"] = role
    r = c.call("POST", "/auth/register", body, auth=False)
    if r.status != 201:
        raise RuntimeError(f"register {email}: {r.status} {r.raw[:300]!r}")
    return norm_id(r.body["user_id"])


def topup(c: Client, rec: Record, buyer: Buyer, amount: str, during_burst: bool) -> None:
    key = f"crash-topup-{uuid.uuid4()}"
    while True:
        try:
            r = c.request("POST", "/balance", {"amount": amount}, {"Idempotency-Key": key})
        except NotSent:
            time.sleep(0.02)
            continue
        except Lost as e:
            if not during_burst:
                raise RuntimeError(f"top-up lost during set-up: {e}")
            rec.add("lost_topups", {"user": buyer.user_id, "buyer": buyer.idx, "key": key,
                                    "amount": amount, "why": str(e)})
            rec.count("topup", "lost")
            return
        if r.status == 401 and during_burst:
            login(c, buyer.email)
            continue
        rec.count("topup", problem_code(r))
        if r.status == 200:
            rec.add("acked_topups", {"user": buyer.user_id, "buyer": buyer.idx, "key": key,
                                     "amount": amount, "balance": r.body["balance"]})
        elif not during_burst:
            raise RuntimeError(f"top-up: {r.status} {r.raw[:300]!r}")
        elif r.status >= 500:
            # An error answer is not an acknowledgement; settle it with the lost ones.
            rec.add("lost_topups", {"user": buyer.user_id, "buyer": buyer.idx, "key": key,
                                    "amount": amount, "why": f"answered {r.status}"})
        return


def buyer_loop(server: Server, inflight: InFlight, rec: Record, accounts: list[Buyer], event_id: str,
               stop: threading.Event, rng: random.Random, topup_p: float) -> None:
    """One client: buys with its first account until that reaches the per-person limit, then
    with the next, until the burst stops, the event sells out or its accounts are done."""
    c = Client(server, inflight)
    todo = list(accounts)
    buyer = todo.pop(0)
    c.token = buyer.token
    try:
        while not stop.is_set():
            if rng.random() < topup_p:
                topup(c, rec, buyer, "1.00", during_burst=True)
            # Hold the best available seat.
            try:
                r = c.request("POST", "/reservations", {"event_id": event_id, "quantity": 1})
            except NotSent:
                time.sleep(0.02)
                continue
            except Lost:
                rec.count("reserve", "lost")
                continue
            if r.status == 401:
                rec.count("reserve", problem_code(r))
                login(c, buyer.email)
                continue
            if r.status != 201:
                rec.count("reserve", problem_code(r))
                code = r.body.get("code") if isinstance(r.body, dict) else None
                if r.status == 409 and code == "sold_out":
                    rec.sold_out = True
                    return
                if r.status == 400 and b"over the limit" in r.raw:  # this account is done
                    if not todo:
                        return
                    buyer = todo.pop(0)
                    c.token = buyer.token
                    continue
                time.sleep(0.05)
                continue
            rec.count("reserve", "201")
            rid = norm_id(r.body["reservation_id"])
            # Pay it, with a fresh key; resend only what certainly never left.
            key = f"crash-pay-{uuid.uuid4()}"
            give_up = time.monotonic() + 300
            while True:
                try:
                    r = c.request("POST", "/payments", {"reservation_id": rid}, {"Idempotency-Key": key})
                except NotSent:
                    if time.monotonic() > give_up:
                        rec.notes.append(f"payment {key} never sent")
                        break
                    time.sleep(0.02)
                    continue
                except Lost as e:
                    rec.add("lost_payments", {"user": buyer.user_id, "buyer": buyer.idx, "key": key,
                                              "rid": rid, "why": str(e), "gen": c.gen})
                    rec.count("pay", "lost")
                    break
                if r.status == 401:
                    rec.count("pay", problem_code(r))
                    login(c, buyer.email)
                    continue
                rec.count("pay", problem_code(r))
                if r.status == 201:
                    rec.add("acked_payments", {"user": buyer.user_id, "buyer": buyer.idx, "key": key,
                                               "rid": rid, "body": r.body,
                                               "replayed": r.headers.get("idempotent-replayed")})
                elif r.status >= 500:
                    rec.add("lost_payments", {"user": buyer.user_id, "buyer": buyer.idx, "key": key,
                                              "rid": rid, "why": f"answered {r.status}", "gen": c.gen})
                break
    except Exception as e:  # a client bug must not pass silently
        rec.notes.append(f"client of buyer {buyer.idx} died: {e!r}")
        raise
    finally:
        c.close()


class Checks:
    def __init__(self):
        self.results: list[tuple[str, bool, str]] = []

    def check(self, name: str, failures: list, total: int | None = None) -> None:
        ok = not failures
        detail = f"{total} checked" if total is not None else ""
        if failures:
            detail = f"{len(failures)} failed" + (f" of {total}" if total is not None else "") + \
                     ": " + "; ".join(str(f) for f in failures[:5])
        self.results.append((name, ok, detail))
        log(f"  {'PASS' if ok else 'FAIL'} {name}: {detail}")

    @property
    def passed(self) -> int:
        return sum(1 for _, ok, _ in self.results if ok)

    @property
    def failed(self) -> int:
        return sum(1 for _, ok, _ in self.results if not ok)


def check_invariants(ck: Checks, snap: dict, rec: Record, event_id: str, label: str) -> None:
    payments = {p["payment_id"]: p for p in snap["payments"]}
    purchases = {p["purchase_id"]: p for p in snap["purchases"]}
    reservations = {r["reservation_id"]: r for r in snap["reservations"]}
    tickets_by_purchase = collections.defaultdict(list)
    for t in snap["tickets"]:
        tickets_by_purchase[t["purchase_id"]].append(t)
    purchases_by_rid = collections.defaultdict(list)
    for p in snap["purchases"]:
        purchases_by_rid[p["reservation_id"]].append(p)
    keys = {(k["user_id"], k["idem_key"]): k for k in snap["keys"]}
    ledger = {e["entry_id"]: e for e in snap["ledger"]}

    # 1. Every acknowledged payment is there, whole.
    fails = []
    for a in rec.acked_payments:
        b = a["body"]
        pid, pur = norm_id(b["payment_id"]), norm_id(b["purchase"]["purchase_id"])
        p = payments.get(pid)
        if p is None:
            fails.append(f"payment {pid} (key {a['key']}) missing")
            continue
        if p["reservation_id"] != a["rid"] or p["user_id"] != a["user"] or p["payment_status"] != "success" \
                or p["amount"] != minor(b["amount"]):
            fails.append(f"payment {pid} differs: db {p} vs answer")
        pu = purchases.get(pur)
        if pu is None:
            fails.append(f"purchase {pur} of payment {pid} missing")
            continue
        if pu["reservation_id"] != a["rid"] or pu["status"] != "completed" or pu["event_id"] != event_id:
            fails.append(f"purchase {pur} differs: {pu}")
        res = reservations.get(a["rid"])
        if res is None or res["status"] != "completed":
            fails.append(f"reservation {a['rid']} of payment {pid} is {res and res['status']}")
        db_t = {t["ticket_id"]: t for t in tickets_by_purchase.get(pur, [])}
        ans_t = {norm_id(t["ticket_id"]): t for t in b["tickets"]}
        if set(db_t) != set(ans_t) or not ans_t:
            fails.append(f"purchase {pur}: tickets db {sorted(db_t)} vs answer {sorted(ans_t)}")
        for tid, t in db_t.items():
            if t["status"] != "valid":
                fails.append(f"ticket {tid} is {t['status']}")
            if tid in ans_t and t["seat_number"] != ans_t[tid]["seat_number"]:
                fails.append(f"ticket {tid} seat db {t['seat_number']} vs answer {ans_t[tid]['seat_number']}")
        k = keys.get((a["user"], a["key"]))
        if k is None or k["payment_id"] != pid or k["kind"] != "payment":
            fails.append(f"key {a['key']} record {k} does not name payment {pid}")
    ck.check(f"[{label}] every acknowledged payment durable with purchase + valid tickets", fails,
             len(rec.acked_payments))

    # 2. No acknowledgement repeats another.
    fails = []
    for what, f in (("payment", lambda a: a["body"]["payment_id"]),
                    ("purchase", lambda a: a["body"]["purchase"]["purchase_id"]),
                    ("reservation", lambda a: a["rid"])):
        c = collections.Counter(f(a) for a in rec.acked_payments)
        fails += [f"{what} {x} acknowledged {n}x" for x, n in c.items() if n > 1]
    c = collections.Counter((t["ticket_id"]) for a in rec.acked_payments for t in a["body"]["tickets"])
    fails += [f"ticket {x} acknowledged {n}x" for x, n in c.items() if n > 1]
    c = collections.Counter(t["seat_number"] for a in rec.acked_payments for t in a["body"]["tickets"])
    fails += [f"seat {x} acknowledged {n}x" for x, n in c.items() if n > 1]
    ck.check(f"[{label}] no payment, purchase, reservation, ticket or seat acknowledged twice", fails,
             len(rec.acked_payments))

    # 3. Payments, purchases, debits and key records go together one to one.
    fails = []
    debits = collections.defaultdict(list)
    for e in snap["ledger"]:
        if e["kind"] == "payment":
            debits[e["reference_id"]].append(e)
    pay_keys = collections.Counter(k["payment_id"] for k in snap["keys"] if k["kind"] == "payment")
    for p in snap["payments"]:
        rid = p["reservation_id"]
        if len(purchases_by_rid.get(rid, [])) != 1:
            fails.append(f"payment {p['payment_id']}: {len(purchases_by_rid.get(rid, []))} purchases")
        d = debits.get(rid, [])
        if len(d) != 1 or d[0]["amount"] != -p["amount"] or d[0]["user_id"] != p["user_id"]:
            fails.append(f"payment {p['payment_id']}: debits {d}")
        if pay_keys.get(p["payment_id"], 0) != 1:
            fails.append(f"payment {p['payment_id']}: {pay_keys.get(p['payment_id'], 0)} key records")
        if reservations.get(rid, {}).get("status") != "completed":
            fails.append(f"payment {p['payment_id']}: reservation {reservations.get(rid)}")
    pay_rids = {p["reservation_id"] for p in snap["payments"]}
    fails += [f"purchase {p['purchase_id']} without payment" for p in snap["purchases"]
              if p["reservation_id"] not in pay_rids and p["event_id"] == event_id]
    fails += [f"debit {rid} without payment" for rid in debits if rid not in pay_rids]
    fails += [f"key record {k['idem_key']} names no payment" for k in snap["keys"]
              if k["kind"] == "payment" and k["payment_id"] not in payments]
    for p in snap["purchases"]:
        ts = tickets_by_purchase.get(p["purchase_id"], [])
        if len(ts) != p["ticket_quantity"]:
            fails.append(f"purchase {p['purchase_id']}: {len(ts)} tickets for quantity {p['ticket_quantity']}")
    ck.check(f"[{label}] each payment has one purchase, one debit, one key record; tickets == quantity",
             fails, len(snap["payments"]))

    # 4. No seat sold twice.
    c = collections.Counter((t["event_id"], t["seat_number"]) for t in snap["tickets"] if t["status"] == "valid")
    fails = [f"event {e} seat {s}: {n} valid tickets" for (e, s), n in c.items() if n > 1]
    ck.check(f"[{label}] no seat has more than one valid ticket", fails, len(c))

    # 5. Seats sold == valid tickets.
    sold = {s["seat_number"] for s in snap["seats"] if s["event_id"] == event_id and s["status"] == "sold"}
    valid = [t["seat_number"] for t in snap["tickets"] if t["event_id"] == event_id and t["status"] == "valid"]
    fails = []
    if len(sold) != len(valid) or sold != set(valid):
        fails.append(f"{len(sold)} seats sold, {len(valid)} valid tickets; sold without ticket "
                     f"{sorted(sold - set(valid))[:10]}, ticket on unsold seat {sorted(set(valid) - sold)[:10]}")
    ck.check(f"[{label}] seats sold == valid tickets ({len(sold)} == {len(valid)})", fails, len(sold))

    # 6. Balance == ledger.
    sums = collections.Counter()
    for e in snap["ledger"]:
        sums[e["user_id"]] += e["amount"]
    fails = [f"user {u['user_id']}: balance {u['balance']} != ledger {sums.get(u['user_id'], 0)}"
             for u in snap["users"] if u["balance"] != sums.get(u["user_id"], 0) or u["balance"] < 0]
    ck.check(f"[{label}] every user's balance == sum of their ledger", fails, len(snap["users"]))

    # 7. Top-ups: every charge has its key record; every acknowledged top-up its entry.
    fails = []
    charge_keys = collections.Counter(k["payment_id"] for k in snap["keys"] if k["kind"] == "charge")
    for e in snap["ledger"]:
        if e["kind"] == "charge" and charge_keys.get(e["entry_id"], 0) != 1:
            fails.append(f"charge {e['entry_id']}: {charge_keys.get(e['entry_id'], 0)} key records")
    for k in snap["keys"]:
        if k["kind"] == "charge" and k["payment_id"] not in ledger:
            fails.append(f"top-up key {k['idem_key']} names no ledger entry")
    for a in rec.acked_topups:
        k = keys.get((a["user"], a["key"]))
        e = ledger.get(k["payment_id"]) if k else None
        if e is None or e["amount"] != minor(a["amount"]) or e["user_id"] != a["user"]:
            fails.append(f"acknowledged top-up {a['key']}: key {k}, entry {e}")
    ck.check(f"[{label}] every top-up has one key record; every acknowledged top-up is in the ledger",
             fails, len(rec.acked_topups))


def replay_checks(ck: Checks, c: Client, tokens: dict, snap: dict, rec: Record) -> dict:
    """Resends every acknowledged and lost request with its key. Returns counts."""
    keys = {(k["user_id"], k["idem_key"]): k for k in snap["keys"]}
    pay_by_rid = {p["reservation_id"]: p for p in snap["payments"]}
    n = collections.Counter()

    def as_user(user):
        c.token = tokens[user]

    # Acknowledged payments: the same answer, marked as a replay, nothing new.
    fails = []
    for a in rec.acked_payments:
        as_user(a["user"])
        r = c.call("POST", "/payments", {"reservation_id": a["rid"]}, {"Idempotency-Key": a["key"]})
        n["acked_payment_replays"] += 1
        b0 = a["body"]
        if r.status != 201:
            fails.append(f"{a['key']}: {r.status} {r.raw[:200]!r}")
            continue
        b = r.body
        same = (b["payment_id"] == b0["payment_id"] and b["purchase"]["purchase_id"] == b0["purchase"]["purchase_id"]
                and sorted((t["ticket_id"], t["seat_number"]) for t in b["tickets"])
                == sorted((t["ticket_id"], t["seat_number"]) for t in b0["tickets"])
                and b["amount"] == b0["amount"])
        if not same:
            fails.append(f"{a['key']}: answered {b['payment_id']} / {b['purchase']['purchase_id']}, "
                         f"first {b0['payment_id']} / {b0['purchase']['purchase_id']}")
        if r.headers.get("idempotent-replayed") != "true":
            fails.append(f"{a['key']}: no Idempotent-Replayed header")
    ck.check("replay of every acknowledged payment answers the original (201, same ids)", fails,
             len(rec.acked_payments))

    # Acknowledged top-ups: the first balance answered again, the balance unchanged.
    fails = []
    by_user = collections.defaultdict(list)
    for a in rec.acked_topups:
        by_user[a["user"]].append(a)
    for user, items in by_user.items():
        as_user(user)
        b0 = c.call("GET", "/balance").body["balance"]
        for a in items:
            r = c.call("POST", "/balance", {"amount": a["amount"]}, {"Idempotency-Key": a["key"]})
            n["acked_topup_replays"] += 1
            if r.status != 200 or r.body["balance"] != a["balance"] or r.headers.get("idempotent-replayed") != "true":
                fails.append(f"{a['key']}: {r.status} {r.raw[:200]!r}, first answered {a['balance']}")
        b1 = c.call("GET", "/balance").body["balance"]
        if b1 != b0:
            fails.append(f"user {user}: balance {b0} -> {b1} after replaying its top-ups")
    ck.check("replay of every acknowledged top-up answers its balance and changes nothing", fails,
             len(rec.acked_topups))

    # Lost payments: committed ones replay as the original; the rest may do anything valid.
    fails = []
    for a in rec.lost_payments:
        k = keys.get((a["user"], a["key"]))
        p = pay_by_rid.get(a["rid"])
        committed = k is not None
        if committed != (p is not None) or (k and p and k["payment_id"] != p["payment_id"]):
            fails.append(f"{a['key']}: key record {k} but payment for its reservation {p}")
        as_user(a["user"])
        r = c.call("POST", "/payments", {"reservation_id": a["rid"]}, {"Idempotency-Key": a["key"]})
        replayed = r.headers.get("idempotent-replayed") == "true"
        if committed:
            n["lost_payment_committed"] += 1
            if r.status != 201 or norm_id(r.body["payment_id"]) != k["payment_id"] or not replayed:
                fails.append(f"{a['key']} committed as {k['payment_id']}: replay {r.status} {r.raw[:200]!r}")
        else:
            n["lost_payment_not_committed"] += 1
            n[f"lost_payment_not_committed_then_{problem_code(r)}{' replayed' if replayed else ''}"] += 1
            if r.status >= 500 or replayed:
                fails.append(f"{a['key']} never committed: replay {r.status} replayed={replayed} {r.raw[:200]!r}")
            elif r.status == 201:
                rec.add("fresh_payments", {"key": a["key"], "rid": a["rid"], "body": r.body})
    ck.check("replay of every lost payment: committed -> original answer; else a clean fresh outcome", fails,
             len(rec.lost_payments))

    # Lost top-ups: the same.
    fails = []
    for a in rec.lost_topups:
        k = keys.get((a["user"], a["key"]))
        as_user(a["user"])
        b0 = c.call("GET", "/balance").body["balance"]
        r = c.call("POST", "/balance", {"amount": a["amount"]}, {"Idempotency-Key": a["key"]})
        b1 = c.call("GET", "/balance").body["balance"]
        replayed = r.headers.get("idempotent-replayed") == "true"
        if k is not None:
            n["lost_topup_committed"] += 1
            if r.status != 200 or not replayed or b1 != b0:
                fails.append(f"{a['key']} committed: replay {r.status} replayed={replayed}, balance {b0} -> {b1}")
        else:
            n["lost_topup_not_committed"] += 1
            if r.status != 200 or replayed or minor(b1) - minor(b0) != minor(a["amount"]):
                fails.append(f"{a['key']} never committed: replay {r.status} replayed={replayed}, "
                             f"balance {b0} -> {b1}")
            else:
                n["fresh_topups"] += 1
    ck.check("replay of every lost top-up: committed -> no change; else charged once", fails,
             len(rec.lost_topups))
    return n


def run_backend(backend: str, args, binary: str) -> dict:
    rng = random.Random(f"{args.seed}-{backend}")
    workdir = tempfile.mkdtemp(prefix=f"tessera-crash-{backend}-")
    db: Db = SqliteDb(os.path.join(workdir, "tessera.db")) if backend == "sqlite" else PostgresDb()
    port = free_port()
    server = Server(binary, db.url, workdir, port)
    rec = Record()
    ck = Checks()
    out = {"backend": backend, "workdir": workdir, "port": port}
    t_start = time.monotonic()
    log(f"{backend}: {db.url} on 127.0.0.1:{port}, work dir {workdir}")
    try:
        server.start()
        server.wait_healthy()
        # ---- set-up
        c = Client(server)
        tag = uuid.uuid4().hex[:8]
        org_email = f"organizer-{tag}@crash.test"
        register(c, "Crash Organizer", org_email, "organizer")
        login(c, org_email)
        start = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=365)).replace(microsecond=0)
        r = c.call("POST", "/events", {
            "name": f"Crash test {tag}", "start_time": start.isoformat().replace("+00:00", "Z"),
            "seating": "seated", "seat_count": args.seats, "price": "10.00",
            "max_per_person": args.max_per_person, "hold_seconds": 3600})
        if r.status != 201:
            raise RuntimeError(f"POST /events: {r.status} {r.raw[:300]!r}")
        event_id = norm_id(r.body["event_id"])
        c.close()

        def make_buyer(i: int) -> Buyer:
            bc = Client(server)
            email = f"buyer-{i}-{tag}@crash.test"
            b = Buyer(i, email, register(bc, f"Buyer {i}", email))
            b.token = login(bc, email)
            for _ in range(2):
                topup(bc, rec, b, args.topup, during_burst=False)
            bc.close()
            return b

        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            buyers = list(ex.map(make_buyer, range(args.buyers * args.accounts)))
        tokens = {b.user_id: b.token for b in buyers}
        log(f"{backend}: set up event {event_id} ({args.seats} seats) and {len(buyers)} buyer accounts "
            f"in {time.monotonic() - t_start:.1f}s")

        # ---- burst + kills
        stop = threading.Event()
        inflight = InFlight()
        threads = [threading.Thread(target=buyer_loop, name=f"client-{i}",
                                    args=(server, inflight, rec, buyers[i::args.buyers], event_id, stop,
                                          random.Random(rng.random()), args.topup_p), daemon=True)
                   for i in range(args.buyers)]
        t_burst = time.monotonic()
        for t in threads:
            t.start()
        recover, at_kill, kills = [], [], 0
        for k in range(args.kills):
            time.sleep(rng.uniform(args.kill_min, args.kill_max))
            if not any(t.is_alive() for t in threads):
                rec.notes.append(f"every client finished ({'sold out' if rec.sold_out else 'accounts at their limit'})"
                                 f" before kill {k + 1}")
                break
            with inflight.lock:
                at_kill.append((inflight.requests, inflight.payments))
            t0 = time.monotonic()
            server.kill()
            kills += 1
            server.start()
            server.wait_healthy()
            recover.append(time.monotonic() - t0)
            log(f"{backend}: kill {kills} with {at_kill[-1][0]} requests ({at_kill[-1][1]} payments) in flight; "
                f"healthy again after {recover[-1] * 1000:.0f} ms")
        time.sleep(args.tail)
        stop.set()
        for t in threads:
            t.join(timeout=120)
        hung = [t.name for t in threads if t.is_alive()]
        if hung:
            rec.notes.append(f"client threads still running after the burst: {hung}")
        burst_secs = time.monotonic() - t_burst
        log(f"{backend}: burst over after {burst_secs:.1f}s: {len(rec.acked_payments)} payments acknowledged, "
            f"{len(rec.lost_payments)} lost, {len(rec.acked_topups)} top-ups acknowledged, "
            f"{len(rec.lost_topups)} lost")

        # ---- checks
        server.wait_healthy()
        ck.check("client threads all finished", hung)
        ck.check("client threads saw no unexpected error", [n for n in rec.notes if "died" in n])
        if rec.sold_out:
            rec.notes.append("the event sold out during the burst")
        snap1 = db.snapshot()
        check_invariants(ck, snap1, rec, event_id, "after the kills")
        rc = Client(server)
        replays = replay_checks(ck, rc, tokens, snap1, rec)
        rc.close()
        snap2 = db.snapshot()
        check_invariants(ck, snap2, rec, event_id, "after the replays")
        fresh_p = len(rec.fresh_payments)
        fresh_t = replays.get("fresh_topups", 0)
        fails = []
        if len(snap2["payments"]) != len(snap1["payments"]) + fresh_p:
            fails.append(f"payments {len(snap1['payments'])} -> {len(snap2['payments'])}, fresh {fresh_p}")
        if len(snap2["ledger"]) != len(snap1["ledger"]) + fresh_p + fresh_t:
            fails.append(f"ledger {len(snap1['ledger'])} -> {len(snap2['ledger'])}, fresh {fresh_p}+{fresh_t}")
        if len(snap2["tickets"]) != len(snap1["tickets"]) + sum(len(f["body"]["tickets"]) for f in rec.fresh_payments):
            fails.append(f"tickets {len(snap1['tickets'])} -> {len(snap2['tickets'])}")
        ck.check("the replays added exactly their fresh outcomes and nothing else", fails)

        sold = sum(1 for s in snap2["seats"] if s["status"] == "sold")
        out.update({
            "ok": ck.failed == 0,
            "acked_payments": len(rec.acked_payments),
            "lost_payments": len(rec.lost_payments),
            "lost_committed": replays.get("lost_payment_committed", 0),
            "lost_not_committed": replays.get("lost_payment_not_committed", 0),
            "lost_outcomes": {k[len("lost_payment_not_committed_then_"):]: v for k, v in replays.items()
                              if k.startswith("lost_payment_not_committed_then_")},
            "acked_topups": len(rec.acked_topups),
            "lost_topups": len(rec.lost_topups),
            "lost_topups_committed": replays.get("lost_topup_committed", 0),
            "lost_topups_not_committed": replays.get("lost_topup_not_committed", 0),
            "kills": kills, "restarts": server.starts - 1,
            "recover": recover, "at_kill": at_kill,
            "replays": replays.get("acked_payment_replays", 0) + replays.get("acked_topup_replays", 0)
                       + len(rec.lost_payments) + len(rec.lost_topups),
            "replays_detail": dict(replays),
            "checks": ck.results, "passed": ck.passed, "failed": ck.failed,
            "outcomes": dict(rec.outcomes), "notes": rec.notes[:20],
            "burst_secs": burst_secs, "seats_sold": sold, "payments_in_db": len(snap2["payments"]),
        })
    except Exception as e:
        out.update({"ok": False, "error": f"{e!r}", "server_log": server.log_tail(40),
                    "checks": ck.results, "passed": ck.passed, "failed": ck.failed})
        log(f"{backend}: ERROR {e!r}")
    finally:
        server.stop()
        out["runtime"] = time.monotonic() - t_start
        out["log_levels"], out["log_samples"] = server.log_summary()
        if args.keep:
            log(f"{backend}: kept the database {db.url}")
        else:
            db.drop()
        if out.get("ok") and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"{backend}: kept {workdir} (server.log, database)")
    return out


# --------------------------------------------------------------------------------------------
# Binary, report


def find_binary(args) -> str:
    if args.binary:
        return os.path.abspath(args.binary)
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/tessera-target")
    path = os.path.join(target, "release", "tessera")
    if args.build or not os.path.exists(path):
        log(f"building {path} (cargo build --release -p tessera) in {REPO}")
        subprocess.run(["cargo", "build", "--release", "-p", "tessera"], cwd=REPO, check=True,
                       env={**os.environ, "CARGO_TARGET_DIR": target})
    return path


def ms(xs: list[float]) -> str:
    if not xs:
        return "–"
    return f"{min(xs) * 1000:.0f} / {statistics.median(xs) * 1000:.0f} / {max(xs) * 1000:.0f} ms"


def report(results: list[dict], args, binary: str, cmd: str, total: float) -> str:
    rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    lines = [
        "# Crash test: SIGKILL during payments",
        "",
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}; repository at {rev}"
        f"{' with uncommitted changes' if dirty else ''}; binary `{binary}`"
        f" ({'given with --binary' if args.binary else 'built by cargo from the repository'},"
        f" modified {datetime.datetime.fromtimestamp(os.path.getmtime(binary)):%Y-%m-%d %H:%M}).",
        "",
        f"Command: `{cmd}`",
        "",
        f"{args.buyers} concurrent buyers (one client thread each, {args.accounts} accounts each), a seated event of {args.seats} seats at 10.00 "
        f"(max {args.max_per_person} per person), {args.kills} SIGKILLs {args.kill_min}–{args.kill_max} s apart "
        f"(seed {args.seed}). Total runtime {total:.0f} s.",
        "",
    ]
    cols = [r["backend"] for r in results]
    rows = []

    def row(name, f):
        vals = []
        for r in results:
            try:
                vals.append(f(r))
            except (KeyError, TypeError, ValueError, ZeroDivisionError):
                vals.append("–")
        rows.append((name, vals))

    row("result", lambda r: "PASS" if r["ok"] else "FAIL")
    row("payments acknowledged (201)", lambda r: r["acked_payments"])
    row("payment answers lost to kills", lambda r: r["lost_payments"])
    row("… of which had committed (replayed as the original)", lambda r: r["lost_committed"])
    row("… of which never committed (fresh outcome on replay)",
        lambda r: f"{r['lost_not_committed']}" + (" (" + ", ".join(f"{k}: {v}" for k, v in
                                                   sorted(r["lost_outcomes"].items())) + ")" if r["lost_outcomes"] else ""))
    row("top-ups acknowledged / lost (committed)",
        lambda r: f"{r['acked_topups']} / {r['lost_topups']} ({r['lost_topups_committed']})")
    row("kills (SIGKILL)", lambda r: r["kills"])
    row("restarts", lambda r: r["restarts"])
    row("time to recover, kill → /health 200 (min / median / max)", lambda r: ms(r["recover"]))
    row("requests (payments) in flight at the kills",
        lambda r: ", ".join(f"{a}({b})" for a, b in r["at_kill"]))
    row("invariant checks passed / failed", lambda r: f"{r['passed']} / {r['failed']}")
    row("idempotent replays checked", lambda r: r["replays"])
    row("seats sold / payments in the database", lambda r: f"{r['seats_sold']} / {r['payments_in_db']}")
    row("burst duration", lambda r: f"{r['burst_secs']:.1f} s")
    row("backend runtime", lambda r: f"{r['runtime']:.1f} s")
    lines.append("| | " + " | ".join(cols) + " |")
    lines.append("|---|" + "---|" * len(cols))
    for name, vals in rows:
        lines.append(f"| {name} | " + " | ".join(str(v) for v in vals) + " |")
    for r in results:
        lines += ["", f"## {r['backend']}", ""]
        if r.get("error"):
            lines += [f"Error: `{r['error']}`", "", "```", r.get("server_log", "").rstrip(), "```", ""]
        for name, ok, detail in r.get("checks", []):
            lines.append(f"- {'PASS' if ok else '**FAIL**'} {name}" + (f" — {detail}" if detail else ""))
        if r.get("outcomes"):
            lines += ["", "Client outcomes: " + ", ".join(
                f"{op} {what}: {n}" for (op, what), n in sorted(r["outcomes"].items()))]
        if r.get("notes"):
            lines += ["", "Notes: " + "; ".join(r["notes"][:10])]
        if "log_levels" in r:
            lvl = r["log_levels"]
            lines += ["", "Server log (TESSERA_LOG=warn, every start): " +
                      (", ".join(f"{n} {k}" for k, n in sorted(lvl.items())) if lvl else "nothing")]
            lines += [f"  - `{m}`" for m in r["log_samples"]]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--binary", help="tessera binary (default: build/find the release binary)")
    ap.add_argument("--build", action="store_true", help="run cargo build --release even if the binary exists")
    ap.add_argument("--buyers", type=int, default=60, help="concurrent buyers, one client thread each (60)")
    ap.add_argument("--accounts", type=int, default=8,
                    help="accounts per buyer: each account may buy --max-per-person seats, then the buyer "
                         "goes on with its next one (8)")
    ap.add_argument("--seats", type=int, default=50000,
                    help="seats of the event (50000: enough not to sell out before the last kill)")
    ap.add_argument("--max-per-person", type=int, default=100)
    ap.add_argument("--topup", default="1000", help="each of a buyer's two set-up top-ups (1000)")
    ap.add_argument("--topup-p", type=float, default=0.05, help="chance of a 1.00 top-up before each hold")
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--kill-min", type=float, default=0.5)
    ap.add_argument("--kill-max", type=float, default=3.0)
    ap.add_argument("--tail", type=float, default=2.0, help="seconds of burst after the last restart")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--results", default=RESULTS, help="where to write the summary (markdown)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (server.log, SQLite file) and the PostgreSQL database")
    args = ap.parse_args()
    cmd = " ".join([os.path.relpath(sys.argv[0], REPO) if sys.argv[0].startswith(REPO) else sys.argv[0],
                    *sys.argv[1:]])
    cmd = f"python3 {cmd}"
    t0 = time.monotonic()
    try:
        binary = find_binary(args)
    except subprocess.CalledProcessError as e:
        log(f"build failed: {e}")
        return 2
    log(f"binary {binary}, seed {args.seed}")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = [run_backend(b, args, binary) for b in backends]
    text = report(results, args, binary, cmd, time.monotonic() - t0)
    print()
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
    with open(args.results, "w") as f:
        f.write(text)
    log(f"wrote {args.results}")
    if any(r.get("failed") for r in results):
        return 1  # an invariant failed
    return 2 if any(r.get("error") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
