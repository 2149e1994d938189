#!/usr/bin/env python3
"""Streams a completion from a running Hearth server (hearth.v1.Inference/Generate).

Needs only grpcio and grpcio-tools: the Python stubs are generated from proto/ at run time into a
temporary directory, so they always match the server's API.

    python3 examples/python_client.py --address 127.0.0.1:50051 "Once upon a time"
"""
import argparse
import importlib
import os
import sys
import tempfile

import grpc
from grpc_tools import protoc

PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proto")


def load_stubs(out_dir):
    """Compiles hearth/v1/*.proto into out_dir and imports the generated modules."""
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    protos = ["hearth/v1/inference.proto", "hearth/v1/control.proto"]
    rc = protoc.main(["protoc", f"-I{PROTO_DIR}", f"-I{include}", f"--python_out={out_dir}",
                      f"--grpc_python_out={out_dir}"] + protos)
    if rc != 0:
        sys.exit(f"protoc failed ({rc}) on {PROTO_DIR}")
    sys.path.insert(0, out_dir)
    return (importlib.import_module("hearth.v1.inference_pb2"),
            importlib.import_module("hearth.v1.inference_pb2_grpc"))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("prompt")
    p.add_argument("--address", default="127.0.0.1:50051")
    p.add_argument("--api-key", default="", help='sent as "authorization: Bearer <key>"')
    p.add_argument("--chat", action="store_true", help="send the prompt as a user message")
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--timeout", type=float, default=600.0, help="call deadline in seconds")
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        pb, pb_grpc = load_stubs(tmp)
        request = pb.GenerateRequest(max_tokens=args.max_tokens,
                                     sampling=pb.SamplingParams(temperature=args.temperature))
        if args.chat:
            request.chat.messages.add(role="user", content=args.prompt)
        else:
            request.text = args.prompt
        metadata = [("authorization", f"Bearer {args.api_key}")] if args.api_key else []
        with grpc.insecure_channel(args.address) as channel:
            stub = pb_grpc.InferenceStub(channel)
            final = None
            try:
                for chunk in stub.Generate(request, timeout=args.timeout, metadata=metadata):
                    sys.stdout.write(chunk.text)
                    sys.stdout.flush()
                    if chunk.finish_reason:
                        final = chunk
            except grpc.RpcError as e:
                print(f"\nerror: {e.code().name}: {e.details()}", file=sys.stderr)
                return 1
        print()
        if final is not None:
            u, t = final.usage, final.timings
            print(f"[{pb.FinishReason.Name(final.finish_reason)}] prompt {u.prompt_tokens} tokens "
                  f"({u.cached_tokens} cached), completion {u.completion_tokens} tokens, "
                  f"first token {t.first_token_ms:.1f} ms, total {t.total_ms:.1f} ms",
                  file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
