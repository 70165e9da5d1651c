"""Rich error details (google.rpc.Status in grpc-status-details-bin) with
grpcio-status, against Aqueduct.

  details.py client --port P   calls /test.v1.Details/Fail on our server and checks
                               the BadRequest and ErrorInfo details it returns
  details.py server --port 0   serves /test.v1.Details/Fail, failing with
                               INVALID_ARGUMENT and BadRequest + ErrorInfo details;
                               prints "listening on 127.0.0.1:PORT"
"""

import argparse
import sys
from concurrent import futures

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

METHOD = "/test.v1.Details/Fail"


def identity(b):
    return b


def client(port):
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    fail = channel.unary_unary(METHOD, request_serializer=identity, response_deserializer=identity)
    try:
        # A protobuf string message: field 1, length-delimited, empty.
        fail(b"", timeout=10)
    except grpc.RpcError as err:
        status = rpc_status.from_call(err)
        if status is None:
            sys.exit(f"no grpc-status-details-bin; code {err.code()}, message {err.details()!r}")
        if err.code() != grpc.StatusCode.INVALID_ARGUMENT or status.code != code_pb2.INVALID_ARGUMENT:
            sys.exit(f"wrong code: {err.code()} / {status.code}")
        found = {}
        for detail in status.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                found["bad_request"] = [(v.field, v.description) for v in bad.field_violations]
            elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                found["error_info"] = (info.reason, info.domain, dict(info.metadata))
        expected = {
            "bad_request": [("name", "must not be empty")],
            "error_info": ("NAME_EMPTY", "details.test", {"field": "name"}),
        }
        if found != expected:
            sys.exit(f"details differ: got {found!r}, want {expected!r}")
        print("details: ok")
        return
    sys.exit("the call succeeded; it should have failed")


def fail(request, context):
    bad = error_details_pb2.BadRequest(
        field_violations=[error_details_pb2.BadRequest.FieldViolation(field="count", description="too big")]
    )
    info = error_details_pb2.ErrorInfo(reason="COUNT_TOO_BIG", domain="python.test", metadata={"max": "10"})
    details = []
    for message in (bad, info):
        packed = any_pb2.Any()
        packed.Pack(message)
        details.append(packed)
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message="count is too big", details=details)
    context.abort_with_status(rpc_status.to_status(status))


def server(port):
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    handler = grpc.method_handlers_generic_handler(
        "test.v1.Details",
        {"Fail": grpc.unary_unary_rpc_method_handler(fail, request_deserializer=identity, response_serializer=identity)},
    )
    srv.add_generic_rpc_handlers((handler,))
    bound = srv.add_insecure_port(f"127.0.0.1:{port}")
    srv.start()
    print(f"listening on 127.0.0.1:{bound}", flush=True)
    srv.wait_for_termination()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["client", "server"])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    (client if args.role == "client" else server)(args.port)


if __name__ == "__main__":
    main()
