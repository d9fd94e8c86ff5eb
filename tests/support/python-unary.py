#!/usr/bin/env python3
"""One unary gRPC call per request by grpcio (a client nobody here wrote), over mutual TLS, with
raw bytes in and out (no generated code: grpcio's generic unary_unary with no serializers).

stdin: JSON {"target", "serverName", "ca", "cert", "key" (file paths), "method", "requests": [hex]}
stdout: JSON, one answer per request: {"code": "OK", "body": hex, "trailers": [[key, len]]}
        or {"code": "<status name>", "details": "...", "trailers": [...]}
"""
import json
import sys

import grpc


def main() -> None:
    job = json.load(sys.stdin)
    read = lambda p: open(p, "rb").read()
    creds = grpc.ssl_channel_credentials(root_certificates=read(job["ca"]), private_key=read(job["key"]), certificate_chain=read(job["cert"]))
    options = [("grpc.ssl_target_name_override", job["serverName"])]
    answers = []
    with grpc.secure_channel(job["target"], creds, options=options) as channel:
        call = channel.unary_unary(job["method"], request_serializer=None, response_deserializer=None)
        for req in job["requests"]:
            try:
                body, c = call.with_call(bytes.fromhex(req), timeout=20)
                trailers = [[k, len(v)] for k, v in (c.trailing_metadata() or ())]
                answers.append({"code": "OK", "body": body.hex(), "trailers": trailers})
            except grpc.RpcError as e:
                trailers = [[k, len(v)] for k, v in (e.trailing_metadata() or ())]
                answers.append({"code": e.code().name, "details": e.details(), "trailers": trailers})
    json.dump({"grpcio": grpc.__version__, "answers": answers}, sys.stdout)


if __name__ == "__main__":
    main()
