"""A reference grpc.testing.TestService server written with Python grpcio.

Usage: server.py --port P   (0 picks a free port; the first line printed is
"listening on 127.0.0.1:PORT").
"""
import sys
import time
from concurrent import futures

import grpc

import common

empty_pb2, messages_pb2, test_pb2_grpc = common.load()
CODES = {c.value[0]: c for c in grpc.StatusCode}
ECHO_INITIAL = "x-grpc-test-echo-initial"
ECHO_TRAILING = "x-grpc-test-echo-trailing-bin"


def echo_metadata(context):
    md = dict(context.invocation_metadata())
    if ECHO_INITIAL in md:
        context.send_initial_metadata([(ECHO_INITIAL, md[ECHO_INITIAL])])
    if ECHO_TRAILING in md:
        context.set_trailing_metadata([(ECHO_TRAILING, md[ECHO_TRAILING])])


def maybe_abort(status, context):
    if status.code != 0:
        context.abort(CODES[status.code], status.message)


def payload(size):
    return messages_pb2.Payload(body=b"\0" * size)


class TestService(test_pb2_grpc.TestServiceServicer):
    def EmptyCall(self, request, context):
        return empty_pb2.Empty()

    def UnaryCall(self, request, context):
        echo_metadata(context)
        maybe_abort(request.response_status, context)
        if request.response_compressed.value:
            context.set_compression(grpc.Compression.Gzip)
        return messages_pb2.SimpleResponse(payload=payload(request.response_size))

    CacheableUnaryCall = UnaryCall

    def _stream(self, params, context):
        if any(p.compressed.value for p in params):
            context.set_compression(grpc.Compression.Gzip)
        for p in params:
            if p.interval_us:
                time.sleep(p.interval_us / 1e6)
            if not p.compressed.value:
                context.disable_next_message_compression()
            yield messages_pb2.StreamingOutputCallResponse(payload=payload(p.size))

    def StreamingOutputCall(self, request, context):
        echo_metadata(context)
        yield from self._stream(request.response_parameters, context)
        maybe_abort(request.response_status, context)

    def StreamingInputCall(self, request_iterator, context):
        total = sum(len(r.payload.body) for r in request_iterator)
        return messages_pb2.StreamingInputCallResponse(aggregated_payload_size=total)

    def FullDuplexCall(self, request_iterator, context):
        echo_metadata(context)
        for request in request_iterator:
            maybe_abort(request.response_status, context)
            yield from self._stream(request.response_parameters, context)

    def HalfDuplexCall(self, request_iterator, context):
        echo_metadata(context)
        requests = list(request_iterator)
        for request in requests:
            maybe_abort(request.response_status, context)
            yield from self._stream(request.response_parameters, context)


def main():
    port = int(common.flags(sys.argv[1:]).get("port", "50051"))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    test_pb2_grpc.add_TestServiceServicer_to_server(TestService(), server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print(f"listening on 127.0.0.1:{bound}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
