#!/usr/bin/env python3
"""A TCP relay that delays every chunk by a fixed one-way time: the stand-in for `tc netem delay`,
which this kernel lacks (DESIGN.md, last section). Each connection to LISTEN is relayed to TARGET;
bytes read in either direction are written on after DELAY_MS, in order, so a request and its reply
cross it in 2 x DELAY_MS more than on loopback. The connect itself also pays a round trip: the
relay connects to TARGET only after DELAY_MS and accepts the client's data after that.

    delay-relay.py --listen 127.0.0.1:0 --target 127.0.0.1:3635 --delay-ms 2 [--lifetime 3600]

Prints "listening 127.0.0.1:PORT" once ready. Listens on 127.0.0.1 only; exits after --lifetime
seconds (default one hour) or on SIGTERM, and holds at most 256 connections at once.
"""
import argparse
import asyncio
import signal
import sys
import time

MAX_CONNECTIONS = 256


def endpoint(text):
    host, _, port = text.rpartition(":")
    if host != "127.0.0.1":
        raise argparse.ArgumentTypeError(f"{text}: only 127.0.0.1 is allowed")
    return host, int(port)


async def pump(reader, writer, delay):
    """Copies reader to writer, each chunk held until DELAY after it arrived."""
    queue = asyncio.Queue()

    async def receive():
        while True:
            data = await reader.read(65536)
            queue.put_nowait((time.monotonic() + delay, data))
            if not data:
                return

    async def send():
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    await asyncio.gather(receive(), send())


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=endpoint, default=("127.0.0.1", 0))
    parser.add_argument("--target", type=endpoint, required=True)
    parser.add_argument("--delay-ms", type=float, required=True)
    parser.add_argument("--lifetime", type=float, default=3600)
    args = parser.parse_args()
    delay = args.delay_ms / 1000.0
    active = 0

    async def handle(client_reader, client_writer):
        nonlocal active
        if active >= MAX_CONNECTIONS:
            client_writer.close()
            return
        active += 1
        try:
            await asyncio.sleep(delay)  # the SYN's way there; the reply's way back is the first chunk's delay
            server_reader, server_writer = await asyncio.open_connection(*args.target)
            server_writer.transport.get_extra_info("socket").setsockopt(6, 1, 1)  # TCP_NODELAY
            client_writer.transport.get_extra_info("socket").setsockopt(6, 1, 1)
            await asyncio.sleep(delay)
            try:
                await asyncio.gather(pump(client_reader, server_writer, delay), pump(server_reader, client_writer, delay))
            finally:
                server_writer.close()
        except (ConnectionError, OSError):
            pass
        finally:
            active -= 1
            client_writer.close()

    server = await asyncio.start_server(handle, *args.listen)
    port = server.sockets[0].getsockname()[1]
    print(f"listening 127.0.0.1:{port}", flush=True)
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
    try:
        await asyncio.wait_for(stop, args.lifetime)
    except asyncio.TimeoutError:
        pass
    server.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(130)
