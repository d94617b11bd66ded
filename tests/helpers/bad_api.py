#!/usr/bin/env python3
"""A Messages API on a bad network, for tests/e2e/bad_network.sh: python3 bad_api.py MODE [--ipv6].

Listens on 127.0.0.1 (or ::1) on a free port, prints the port on stdout, and logs one line per
connection and request on stderr ("accept N", "request N.K PATH stream=0|1"). Each request is
answered as MODE says:

  ok       a whole answer (JSON, or an SSE stream when the request asks for one), kept alive
  silent   nothing at all: the connection stays open, no headers ever come
  stall    the headers and the first bytes of the answer, then nothing
  trickle  the whole answer, one byte a second
  reset    the headers and half the body, then a TCP reset
  stale    the first request on a connection answered and kept alive; the next one read, then
           the connection closed without a word (a server closing an idle connection just as
           the client reuses it)
  gzcut    200 with Content-Encoding: gzip and a gzip stream cut in half (its length announced)
  closecut 200 with no length (HTTP/1.1, the connection's close ends the body), closed halfway
  overloaded  529 overloaded_error with retry-after: 0, to every request
  portal   200 text/html, a captive portal's login page, to every request
  mislabelled  a whole answer (JSON or SSE) labelled text/plain, as a careless gateway might
  redirect 301 to the same place over https://, as a server that sends every client to TLS
  batchpoll   message batches that end: a submission answered in progress; its odd polls and
           its results' odd downloads answered 529 with retry-after: 1, the even ones whole
  batchexpiry  a message batch that expires 1.5 s after it was submitted (its expires_at), whose
           polls are all answered 529 (retry-after: 0) until GET /heal: from then on it has ended
           and its results are whole; after GET /stuck, its polls say it is in progress, for ever
  batchdenied  a submission answered in progress; its polls answered 401 authentication_error
  slowread a whole answer, once the request has been read at 4 MB a second (a slow uplink)
  unaccepted  no connection is ever set up: the listener's queue is full and it never accepts,
           so the kernel drops each new connection's SYN (a host that does not answer)
"""
import gzip
import json
import socket
import struct
import sys
import threading
import time

MODE = sys.argv[1]
FAMILY = socket.AF_INET6 if "--ipv6" in sys.argv else socket.AF_INET
HOST = "::1" if FAMILY == socket.AF_INET6 else "127.0.0.1"

MESSAGE = {"id": "msg_bad_net", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
           "content": [{"type": "text", "text": "hello over a bad network"}], "stop_reason": "end_turn",
           "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 3}}
BODY = json.dumps(MESSAGE).encode()
EVENTS = [
    ("message_start", {"type": "message_start", "message": dict(MESSAGE, content=[], stop_reason=None,
                                                                usage={"input_tokens": 10, "output_tokens": 1})}),
    ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "text_delta", "text": "hello over a bad network"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                       "usage": {"output_tokens": 3}}),
    ("message_stop", {"type": "message_stop"}),
]


def log(text):
    print(text, file=sys.stderr, flush=True)


BATCH = {"ids": [], "polls": 0, "downloads": 0, "created": 0.0, "healed": False, "stuck": False}


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


def error_answer(status, reason, kind, message, extra=b""):
    body = json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
    return answer(body, extra=extra).replace(b"200 OK", b"%d %s" % (status, reason), 1)


def batch_answer(method, path, body):
    """batchpoll, batchexpiry, batchdenied: the answer to a request to the Message Batches endpoints."""
    name = {"batchpoll": "msgbatch_bad", "batchexpiry": "msgbatch_expiry", "batchdenied": "msgbatch_denied"}[MODE]

    def batch(status):
        done = len(BATCH["ids"]) if status == "ended" else 0
        o = {"id": name, "type": "message_batch", "processing_status": status,
             "request_counts": {"processing": len(BATCH["ids"]) - done, "succeeded": done, "errored": 0,
                                "canceled": 0, "expired": 0}}
        if MODE == "batchexpiry":
            o["created_at"] = rfc3339(BATCH["created"])
            o["expires_at"] = rfc3339(BATCH["created"] + 1.5)
        return o
    busy = error_answer(529, b"Overloaded", "overloaded_error", "Overloaded",
                        b"retry-after: %d\r\n" % (0 if MODE == "batchexpiry" else 1))
    if path in ("/heal", "/stuck"):
        BATCH[{"/heal": "healed", "/stuck": "stuck"}[path]] = True
        return answer(b"{}")
    if method == "POST":
        BATCH["ids"] = [r["custom_id"] for r in json.loads(body)["requests"]]
        BATCH["created"] = time.time()
        return answer(json.dumps(batch("in_progress")).encode())
    if MODE == "batchdenied":
        return error_answer(401, b"Unauthorized", "authentication_error", "invalid x-api-key")
    if MODE == "batchexpiry" and BATCH["stuck"]:
        BATCH["polls"] += 1
        return answer(json.dumps(batch("in_progress")).encode())
    if MODE == "batchexpiry" and not BATCH["healed"]:
        return busy
    if path.endswith("/results"):
        BATCH["downloads"] += 1
        if BATCH["downloads"] % 2 == 1 and MODE == "batchpoll":
            return busy
        return answer(b"".join(json.dumps({"custom_id": i, "result": {"type": "succeeded", "message": MESSAGE}})
                               .encode() + b"\n" for i in BATCH["ids"]), b"application/binary")
    BATCH["polls"] += 1
    return busy if BATCH["polls"] % 2 == 1 and MODE == "batchpoll" else answer(json.dumps(batch("ended")).encode())


def answer(body, content_type=b"application/json", extra=b""):
    return (b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type + b"\r\nrequest-id: req_bad_net\r\n" + extra +
            b"Content-Length: %d\r\n\r\n" % len(body) + body)


def stream_answer():
    return answer(b"".join(b"event: %s\ndata: %s\n\n" % (name.encode(), json.dumps(data).encode())
                           for name, data in EVENTS), b"text/event-stream")


def read_request(sock, buf):
    """(method, path, body, rest of buf), or None when the client closed."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            return None
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    rest = bytearray(rest)  # grown in place: a 16 MB body read as bytes is copied once a read
    lines = head.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        data = sock.recv(65536)
        if not data:
            return None
        rest += data
        if MODE == "slowread":
            time.sleep(len(data) / 4e6)
    return lines[0].split(b" ")[0].decode(), lines[0].split(b" ")[1].decode(), bytes(rest[:length]), bytes(rest[length:])


def serve(sock, number):
    buf = b""
    served = 0
    try:
        while True:
            got = read_request(sock, buf)
            if got is None:
                return
            method, path, body, buf = got
            stream = json.loads(body or b"{}").get("stream") is True
            log("request %d.%d %s stream=%d at=%.3f" % (number, served, path, stream, time.monotonic()))
            whole = stream_answer() if stream else answer(BODY)
            if MODE.startswith("batch"):
                sock.sendall(batch_answer(method, path, body))
            elif MODE in ("ok", "slowread") or (MODE == "stale" and served == 0):
                sock.sendall(whole)
            elif MODE == "mislabelled":
                kind = b"text/event-stream" if stream else b"application/json"
                sock.sendall(whole.replace(b"Content-Type: " + kind, b"Content-Type: text/plain", 1))
            elif MODE == "redirect":
                sock.sendall(b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://%s%s\r\nContent-Length: 0\r\n\r\n"
                             % (HOST.encode(), path.encode()))
            elif MODE == "portal":
                page = b"<html><head><title>Hotel WiFi</title></head>\n<body>Please log in</body></html>"
                sock.sendall(answer(page, b"text/html"))
            elif MODE == "stale":
                sock.close()
                return
            elif MODE == "silent":
                time.sleep(3600)
            elif MODE == "stall":
                sock.sendall(whole[:whole.index(b"\r\n\r\n") + 4 + 40])
                time.sleep(3600)
            elif MODE == "trickle":
                for i in range(len(whole)):
                    sock.sendall(whole[i:i + 1])
                    time.sleep(1)
            elif MODE == "reset":
                sock.sendall(whole[:len(whole) - len(BODY) // 2])
                time.sleep(0.05)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
                return
            elif MODE == "overloaded":
                error = json.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
                sock.sendall(answer(error.encode(), extra=b"retry-after: 0\r\n").replace(b"200 OK", b"529 Overloaded", 1))
            elif MODE == "closecut":
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" +
                             BODY[:len(BODY) // 2])
                sock.shutdown(socket.SHUT_WR)
                sock.close()
                return
            elif MODE == "gzcut":
                packed = gzip.compress(BODY)
                sock.sendall(answer(packed[:len(packed) // 2], extra=b"Content-Encoding: gzip\r\n"))
            served += 1
    except OSError:
        pass  # the client went away


def main():
    listener = socket.socket(FAMILY, socket.SOCK_STREAM)
    listener.bind((HOST, 0))
    if MODE == "unaccepted":
        listener.listen(0)
        fillers = []
        for _ in range(3):
            filler = socket.socket(FAMILY, socket.SOCK_STREAM)
            filler.setblocking(False)
            try:
                filler.connect(listener.getsockname())
            except BlockingIOError:
                pass
            fillers.append(filler)
        time.sleep(0.2)
        print(listener.getsockname()[1], flush=True)
        time.sleep(3600)
    if MODE == "slowread":  # a small window, so the client's writes wait on the reads
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    listener.listen(64)
    print(listener.getsockname()[1], flush=True)
    number = 0
    while True:
        sock, _ = listener.accept()
        number += 1
        log("accept %d" % number)
        threading.Thread(target=serve, args=(sock, number), daemon=True).start()


main()
