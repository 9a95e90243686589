#!/usr/bin/python3
"""A TCP relay on 127.0.0.1 for the live-clock tests: a longer network path for some connections.

    delay_proxy.py LISTEN_PORT TARGET_PORT DELAYS

Relays 127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT and holds back what the server sends by
DELAYS[i] seconds on the i-th connection (DELAYS: comma-separated, used in turn, e.g. "0,0.04":
the first connection direct, the second 40 ms longer). What the client sends goes at once. One
listening port for every connection, so that an RTSP server shares one stream among them (gst-rtsp-
server keys a shared stream by the URL, port included). Prints "ready" once listening; ends on
SIGTERM (its default action).
"""
import asyncio
import sys
import time


def main():
    listen, target = int(sys.argv[1]), int(sys.argv[2])
    delays = [float(x) for x in sys.argv[3].split(",")]
    conns = [0]

    async def pump(reader, writer, delay):
        queue = asyncio.Queue()

        async def send():
            while True:
                at, data = await queue.get()
                if data is None:
                    break
                wait = at + delay - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
            writer.close()

        task = asyncio.create_task(send())
        while True:
            data = await reader.read(65536)
            await queue.put((time.monotonic(), data or None))
            if not data:
                break
        await task

    async def handle(client_r, client_w):
        delay = delays[conns[0] % len(delays)]
        conns[0] += 1
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(pump(client_r, server_w, 0.0), pump(server_r, client_w, delay), return_exceptions=True)

    async def serve():
        srv = await asyncio.start_server(handle, "127.0.0.1", listen)
        print("ready", flush=True)
        await srv.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
