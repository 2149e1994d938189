#!/usr/bin/env python3
"""Waits until a Hearth server's grpc.health.v1 Health/Check answers SERVING and prints the
seconds since --since (a Unix time taken just before the server was started): cold start to
ready. Needs only grpcio (the two health messages are encoded by hand: an empty request, and a
response whose field 1 is the status enum, SERVING = 1).
    t0=$(date +%s.%N); hearth serve ... & python3 wait_ready.py --address HOST:PORT --since $t0
"""
import argparse
import sys
import time

import grpc


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--address", required=True)
    p.add_argument("--since", type=float, default=None, help="Unix time of the server's start")
    p.add_argument("--timeout", type=float, default=300.0)
    args = p.parse_args()
    since = args.since if args.since is not None else time.time()
    deadline = time.time() + args.timeout
    with grpc.insecure_channel(args.address) as ch:
        check = ch.unary_unary("/grpc.health.v1.Health/Check",
                               request_serializer=lambda b: b, response_deserializer=lambda b: b)
        while time.time() < deadline:
            try:
                if check(b"", timeout=1.0) == b"\x08\x01":
                    print(f"{time.time() - since:.3f}")
                    return 0
            except grpc.RpcError:
                pass
            time.sleep(0.02)
    print(f"error: {args.address} not SERVING after {args.timeout:.0f} s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
