"""A grpcio-health-checking client against a server's grpc.health.v1.Health.

Usage: health.py PORT SERVICE

Prints one line per observation, flushed at once, for the test driving it:
  check <STATUS>              Check("") at start
  check-unknown <CODE>        Check of a service nobody reported
  watch <STATUS>              each status Watch(SERVICE) streams
  watch ended                 the stream ended cleanly
  watch error <CODE>          the stream ended with an error status
"""

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def name(status):
    return health_pb2.HealthCheckResponse.ServingStatus.Name(status)


def main():
    port, service = sys.argv[1], sys.argv[2]
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        print("check", name(reply.status), flush=True)
        try:
            stub.Check(health_pb2.HealthCheckRequest(service="nope.v1.Nope"), timeout=10)
            print("check-unknown OK", flush=True)
        except grpc.RpcError as e:
            print("check-unknown", e.code().name, flush=True)
        try:
            request = health_pb2.HealthCheckRequest(service=service)
            for reply in stub.Watch(request, timeout=60):
                print("watch", name(reply.status), flush=True)
            print("watch ended", flush=True)
        except grpc.RpcError as e:
            print("watch error", e.code().name, flush=True)


if __name__ == "__main__":
    main()
