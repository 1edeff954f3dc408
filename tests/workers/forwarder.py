"""A TCP forwarder, for the multi-host test when socat is not installed: accepts on one address
and relays each connection, both ways, to another (PostgreSQL listens on 127.0.0.1 only, which
the hosts in network namespaces cannot reach).

    python -m tests.workers.forwarder LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT

Prints ``forwarding LISTEN -> TARGET`` once it accepts connections; runs until killed.
"""

import asyncio
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _serve(listen: tuple[str, int], target: tuple[str, int]) -> None:
    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            _pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer)
        )

    server = await asyncio.start_server(relay, *listen, reuse_address=True)
    sys.stdout.write(f"forwarding {listen[0]}:{listen[1]} -> {target[0]}:{target[1]}\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> None:
    listen_host, listen_port, target_host, target_port = argv
    asyncio.run(_serve((listen_host, int(listen_port)), (target_host, int(target_port))))


if __name__ == "__main__":
    main(sys.argv[1:])
