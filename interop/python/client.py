"""A grpc.testing interop client written with Python grpcio, to run against our
interop-server.

Usage: client.py --server_host H --server_port P --test_case NAME|all
                 [--use_tls true [--ca_file F] [--server_host_override NAME]
                  [--client_cert_file F --client_key_file F]]
The TLS flags are interop-client's: --ca_file is the roots to trust (default
grpcio's), --server_host_override the name the server's certificate must carry,
and a client certificate and key make it mutual TLS. A TLS flag without
--use_tls true, or an unknown flag, is refused (exit 2).
Prints PASS/FAIL per case and "interop: N passed, M failed"; exits 1 on failure.
"""
import queue
import sys

import grpc

import common

empty_pb2, messages_pb2, test_pb2_grpc = common.load()
M = messages_pb2

ALL = [
    "empty_unary", "large_unary", "client_streaming", "server_streaming", "ping_pong",
    "empty_stream", "timeout_on_sleeping_server", "cancel_after_begin",
    "cancel_after_first_response", "status_code_and_message", "special_status_message",
    "custom_metadata", "unimplemented_method", "unimplemented_service",
    "client_compressed_unary", "server_compressed_unary", "client_compressed_streaming",
    "server_compressed_streaming",
]
SPECIAL = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def payload(n):
    return M.Payload(body=b"\0" * n)


def expect_code(fn, code, message=None):
    try:
        fn()
    except grpc.RpcError as e:
        check(e.code() == code, f"expected {code}, got {e.code()}: {e.details()!r}")
        if message is not None:
            check(e.details() == message, f"expected message {message!r}, got {e.details()!r}")
        return
    raise Fail(f"expected {code}, call succeeded")


class Blocking:
    """A request iterator fed from a queue; None ends it."""

    def __init__(self):
        self.q = queue.Queue()

    def put(self, item):
        self.q.put(item)

    def __iter__(self):
        return self

    def __next__(self):
        item = self.q.get()
        if item is None:
            raise StopIteration
        return item


def run(case, channel):
    stub = test_pb2_grpc.TestServiceStub(channel)
    big = M.SimpleRequest(response_size=314159, payload=payload(271828))
    if case == "empty_unary":
        check(stub.EmptyCall(empty_pb2.Empty()) == empty_pb2.Empty(), "non-empty reply")
    elif case == "large_unary":
        check(len(stub.UnaryCall(big).payload.body) == 314159, "wrong size")
    elif case == "client_streaming":
        reqs = [M.StreamingInputCallRequest(payload=payload(n)) for n in (27182, 8, 1828, 45904)]
        check(stub.StreamingInputCall(iter(reqs)).aggregated_payload_size == 74922, "wrong sum")
    elif case == "server_streaming":
        sizes = [31415, 9, 2653, 58979]
        req = M.StreamingOutputCallRequest(response_parameters=[M.ResponseParameters(size=s) for s in sizes])
        got = [len(r.payload.body) for r in stub.StreamingOutputCall(req)]
        check(got == sizes, f"sizes {got}")
    elif case == "ping_pong":
        reqs = Blocking()
        call = stub.FullDuplexCall(reqs)
        for resp_size, req_size in [(31415, 27182), (9, 8), (2653, 1828), (58979, 45904)]:
            reqs.put(M.StreamingOutputCallRequest(
                response_parameters=[M.ResponseParameters(size=resp_size)], payload=payload(req_size)))
            check(len(next(call).payload.body) == resp_size, "wrong size")
        reqs.put(None)
        check(list(call) == [], "extra responses")
    elif case == "empty_stream":
        check(list(stub.FullDuplexCall(iter([]))) == [], "expected no responses")
    elif case == "timeout_on_sleeping_server":
        reqs = Blocking()
        reqs.put(M.StreamingOutputCallRequest(payload=payload(27182)))
        call = stub.FullDuplexCall(reqs, timeout=0.001)
        expect_code(lambda: list(call), grpc.StatusCode.DEADLINE_EXCEEDED)
        reqs.put(None)
    elif case == "cancel_after_begin":
        reqs = Blocking()
        fut = stub.StreamingInputCall.future(reqs)
        fut.cancel()
        check(fut.cancelled(), "not cancelled")
        check(fut.code() == grpc.StatusCode.CANCELLED, f"code {fut.code()}")
        reqs.put(None)
    elif case == "cancel_after_first_response":
        reqs = Blocking()
        call = stub.FullDuplexCall(reqs)
        reqs.put(M.StreamingOutputCallRequest(
            response_parameters=[M.ResponseParameters(size=31415)], payload=payload(27182)))
        next(call)
        call.cancel()
        check(call.code() == grpc.StatusCode.CANCELLED, f"code {call.code()}")
        reqs.put(None)
    elif case in ("status_code_and_message", "special_status_message"):
        msg = "test status message" if case == "status_code_and_message" else SPECIAL
        st = M.EchoStatus(code=2, message=msg)
        expect_code(lambda: stub.UnaryCall(M.SimpleRequest(response_status=st)), grpc.StatusCode.UNKNOWN, msg)
        expect_code(lambda: list(stub.FullDuplexCall(iter([M.StreamingOutputCallRequest(response_status=st)]))),
                    grpc.StatusCode.UNKNOWN, msg)
    elif case == "custom_metadata":
        md = (("x-grpc-test-echo-initial", "test_initial_metadata_value"),
              ("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab"))
        resp, call = stub.UnaryCall.with_call(big, metadata=md)
        check(len(resp.payload.body) == 314159, "wrong size")
        check(dict(call.initial_metadata()).get(md[0][0]) == md[0][1], f"initial {call.initial_metadata()}")
        check(dict(call.trailing_metadata()).get(md[1][0]) == md[1][1], f"trailing {call.trailing_metadata()}")
        call = stub.FullDuplexCall(iter([M.StreamingOutputCallRequest(
            response_parameters=[M.ResponseParameters(size=314159)], payload=payload(271828))]), metadata=md)
        check([len(r.payload.body) for r in call] == [314159], "wrong responses")
        check(dict(call.initial_metadata()).get(md[0][0]) == md[0][1], f"initial {call.initial_metadata()}")
        check(dict(call.trailing_metadata()).get(md[1][0]) == md[1][1], f"trailing {call.trailing_metadata()}")
    elif case == "unimplemented_method":
        expect_code(lambda: stub.UnimplementedCall(empty_pb2.Empty()), grpc.StatusCode.UNIMPLEMENTED)
    elif case == "unimplemented_service":
        other = test_pb2_grpc.UnimplementedServiceStub(channel)
        expect_code(lambda: other.UnimplementedCall(empty_pb2.Empty()), grpc.StatusCode.UNIMPLEMENTED)
    elif case == "client_compressed_unary":
        probe = M.SimpleRequest(expect_compressed=M.BoolValue(value=True), response_size=314159,
                                payload=payload(271828))
        # The server under test must see that this message is not compressed.
        expect_code(lambda: stub.UnaryCall(probe), grpc.StatusCode.INVALID_ARGUMENT)
        r = stub.UnaryCall(probe, compression=grpc.Compression.Gzip)
        check(len(r.payload.body) == 314159, "wrong size")
        plain = M.SimpleRequest(expect_compressed=M.BoolValue(value=False), response_size=314159,
                                payload=payload(271828))
        check(len(stub.UnaryCall(plain).payload.body) == 314159, "wrong size")
    elif case == "server_compressed_unary":
        for flag in (True, False):
            r = stub.UnaryCall(M.SimpleRequest(response_compressed=M.BoolValue(value=flag), response_size=314159,
                                               payload=payload(271828)))
            check(len(r.payload.body) == 314159, "wrong size")
    elif case == "client_compressed_streaming":
        probe = M.StreamingInputCallRequest(payload=payload(27182), expect_compressed=M.BoolValue(value=True))
        expect_code(lambda: stub.StreamingInputCall(iter([probe])), grpc.StatusCode.INVALID_ARGUMENT)
        # grpcio has no per-message compression switch on the client: both go gzip.
        reqs = [probe, M.StreamingInputCallRequest(payload=payload(45904), expect_compressed=M.BoolValue(value=True))]
        r = stub.StreamingInputCall(iter(reqs), compression=grpc.Compression.Gzip)
        check(r.aggregated_payload_size == 73086, f"sum {r.aggregated_payload_size}")
    elif case == "server_compressed_streaming":
        req = M.StreamingOutputCallRequest(response_parameters=[
            M.ResponseParameters(size=31415, compressed=M.BoolValue(value=True)),
            M.ResponseParameters(size=92653, compressed=M.BoolValue(value=False))])
        got = [len(r.payload.body) for r in stub.StreamingOutputCall(req)]
        check(got == [31415, 92653], f"sizes {got}")
    else:
        raise Fail(f"unknown test case {case!r}")


TLS_FLAGS = ["ca_file", "server_host_override", "client_cert_file", "client_key_file"]
FLAGS = ["server_host", "server_port", "test_case", "use_tls"] + TLS_FLAGS


def open_channel(f, target):
    if not common.use_tls(f, TLS_FLAGS):
        return grpc.insecure_channel(target)
    cert, key = common.read(f, "client_cert_file"), common.read(f, "client_key_file")
    if (cert is None) != (key is None):
        common.usage_error("--client_cert_file and --client_key_file go together")
    creds = grpc.ssl_channel_credentials(
        root_certificates=common.read(f, "ca_file"), private_key=key, certificate_chain=cert)
    options = []
    if "server_host_override" in f:
        options.append(("grpc.ssl_target_name_override", f["server_host_override"]))
    return grpc.secure_channel(target, creds, options=options)


def main():
    f = common.flags(sys.argv[1:], FLAGS)
    if "server_port" not in f:
        common.usage_error("--server_port is required")
    target = f"{f.get('server_host', '127.0.0.1')}:{f['server_port']}"
    cases = ALL if f.get("test_case", "all") == "all" else [f["test_case"]]
    passed = failed = 0
    with open_channel(f, target) as channel:
        for case in cases:
            try:
                run(case, channel)
                passed += 1
                print(f"PASS {case}", flush=True)
            except (Fail, grpc.RpcError) as e:
                failed += 1
                print(f"FAIL {case}: {e}", flush=True)
    print(f"interop: {passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
