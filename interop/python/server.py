"""A reference grpc.testing.TestService server written with Python grpcio.

Usage: server.py --port P [--use_tls true --tls_cert_file F --tls_key_file F
                           [--client_ca_file F]]
(0 picks a free port; the first line printed is "listening on 127.0.0.1:PORT").
The TLS flags are interop-server's: with --client_ca_file, clients must present
a certificate those CAs signed (mutual TLS). A TLS flag without --use_tls true,
or an unknown flag, is refused (exit 2).
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


TLS_FLAGS = ["tls_cert_file", "tls_key_file", "client_ca_file"]
FLAGS = ["port", "use_tls"] + TLS_FLAGS


def bind(f, server, address):
    if not common.use_tls(f, TLS_FLAGS):
        return server.add_insecure_port(address)
    cert, key = common.read(f, "tls_cert_file"), common.read(f, "tls_key_file")
    if cert is None or key is None:
        common.usage_error("--use_tls true needs --tls_cert_file and --tls_key_file")
    client_ca = common.read(f, "client_ca_file")
    creds = grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None)
    return server.add_secure_port(address, creds)


def main():
    f = common.flags(sys.argv[1:], FLAGS)
    port = int(f.get("port", "50051"))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    test_pb2_grpc.add_TestServiceServicer_to_server(TestService(), server)
    bound = bind(f, server, f"127.0.0.1:{port}")
    server.start()
    print(f"listening on 127.0.0.1:{bound}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
