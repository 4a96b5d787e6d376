"""Slow clients against a server: how long does ``GET /health`` take meanwhile?

``N`` connections each send a request's headers one byte every ``--intervallo`` seconds
and never finish them (a "slowloris": a broken client, a stuck kiosk browser, or an
attack); a probe requests ``/health`` on a connection of its own every half second and
records how long each answer took (a probe that gets no answer within ``--timeout``
counts as a timeout). First without slow clients, then with them, for ``--durata``
seconds. Only the loopback or a test host of your own: every loop is bounded in count
and time and the script stops by itself.

    .venv/bin/python bench/slowloris.py --url http://127.0.0.1:5000 --connessioni 8 32 128
    .venv/bin/python bench/slowloris.py --url https://127.0.0.1:8443 --connessioni 8 32 128

docs/deploy.md ("Slow clients") has the figures: gunicorn alone stops answering with
as many slow connections as it has threads; nginx in front holds them itself.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import ssl
import statistics
import threading
import time
from urllib.parse import urlsplit

MAX_CONNESSIONI = 1000
_ALTRA_TESTA = b"X-a: b\r\n"


def _contesto_tls() -> ssl.SSLContext:
    # A test certificate made for the measurement: not verified.
    contesto = ssl.create_default_context()
    contesto.check_hostname = False
    contesto.verify_mode = ssl.CERT_NONE
    return contesto


class Lento(threading.Thread):
    """One slow client: a request line and headers, one byte at a time, never ended."""

    def __init__(self, host: str, porta: int, tls: bool, intervallo: float, fermo: threading.Event):
        super().__init__(daemon=True)
        self.host, self.porta, self.tls, self.intervallo, self.fermo = host, porta, tls, intervallo, fermo
        self.connesso = False
        self.chiuso_dal_server = False

    def run(self):
        try:
            sock = socket.create_connection((self.host, self.porta), timeout=10)
            if self.tls:
                sock = _contesto_tls().wrap_socket(sock, server_hostname=self.host)
        except OSError:
            return
        self.connesso = True
        testa = f"GET /health HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: slowloris-bench\r\n".encode()
        inviati = 0
        try:
            while not self.fermo.is_set():
                # The request line and headers, then one made-up header after another.
                if inviati < len(testa):
                    byte = testa[inviati : inviati + 1]
                else:
                    byte = bytes([_ALTRA_TESTA[(inviati - len(testa)) % len(_ALTRA_TESTA)]])
                sock.sendall(byte)
                inviati += 1
                if self.fermo.wait(self.intervallo):
                    break
        except OSError:
            self.chiuso_dal_server = True
        finally:
            sock.close()


def sonda(host: str, porta: int, tls: bool, durata: float, timeout: float) -> tuple[list[float], int]:
    """``/health`` every 0.5 s for ``durata`` seconds: (seconds of each answer, timeouts)."""
    tempi, scaduti = [], 0
    fine = time.monotonic() + durata
    while time.monotonic() < fine:
        inizio = time.monotonic()
        conn = (
            http.client.HTTPSConnection(host, porta, timeout=timeout, context=_contesto_tls())
            if tls
            else http.client.HTTPConnection(host, porta, timeout=timeout)
        )
        try:
            conn.request("GET", "/health")
            conn.getresponse().read()
            tempi.append(time.monotonic() - inizio)
        except OSError:  # timeout, refused or reset: no answer
            scaduti += 1
        finally:
            conn.close()
        time.sleep(max(0.0, 0.5 - (time.monotonic() - inizio)))
    return tempi, scaduti


def misura(host, porta, tls, n: int, intervallo: float, durata: float, timeout: float) -> str:
    fermo = threading.Event()
    lenti = [Lento(host, porta, tls, intervallo, fermo) for _ in range(n)]
    for lento in lenti:
        lento.start()
    time.sleep(min(2.0, intervallo))  # every slow client connected and started its headers
    try:
        tempi, scaduti = sonda(host, porta, tls, durata, timeout)
    finally:
        fermo.set()
        for lento in lenti:
            lento.join(intervallo + 15)
    connessi = sum(lento.connesso for lento in lenti)
    chiusi = sum(lento.chiuso_dal_server for lento in lenti)
    if tempi:
        valori = sorted(tempi)
        p95 = valori[min(len(valori) - 1, int(0.95 * len(valori)))]
        risposte = (
            f"{len(tempi)} answered, p50 {statistics.median(tempi) * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms, max {max(tempi) * 1000:.0f} ms"
        )
    else:
        risposte = "0 answered"
    return (
        f"{n:4d} slow connections ({connessi} connected, {chiusi} closed by the server): /health "
        f"{risposte}, {scaduti} without an answer within {timeout:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:5000", help="the server (http or https)")
    parser.add_argument("--connessioni", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--intervallo", type=float, default=5.0, help="seconds between two bytes of a slow client")
    parser.add_argument("--durata", type=float, default=20.0, help="seconds of /health probes per step")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds a probe waits for its answer")
    args = parser.parse_args()
    parti = urlsplit(args.url)
    tls = parti.scheme == "https"
    host, porta = parti.hostname or "127.0.0.1", parti.port or (443 if tls else 80)
    if max(args.connessioni) > MAX_CONNESSIONI or min(args.connessioni) < 0:
        raise SystemExit(f"--connessioni: da 0 a {MAX_CONNESSIONI}")
    print(f"{args.url}: one byte every {args.intervallo:.0f} s per slow connection, {args.durata:.0f} s per step")
    print(misura(host, porta, tls, 0, args.intervallo, min(args.durata, 5.0), args.timeout))
    for n in args.connessioni:
        print(misura(host, porta, tls, n, args.intervallo, args.durata, args.timeout), flush=True)


if __name__ == "__main__":
    main()
