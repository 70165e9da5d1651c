"""Makes grpc.testing.TestService/EmptyCall calls with grpcio, one after the
other, until its stdin closes: a steady client for the restart test.

Usage: calls.py --server_host H --server_port P [--connection_per_call true]

With --connection_per_call true every call gets a channel of its own (with its
own subchannel pool, so a new connection), closed after the call; otherwise
one channel serves every call. Each call has a 10 s deadline and fails fast
(no wait_for_ready): a refused connection fails a call.

Prints, flushed at once:
  ok N              after every 10th call that succeeded
  done N M          at the end: N calls succeeded, M failed
  failed CODE: ...  then up to 10 of the failures
"""
import sys
import threading

import grpc

import common


def main():
    args = common.flags(sys.argv[1:])
    target = f"{args['server_host']}:{args['server_port']}"
    per_call = args.get("connection_per_call", "false") == "true"
    empty_pb2, _, test_pb2_grpc = common.load()

    stop = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()

    def new_channel():
        return grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])

    shared = None if per_call else new_channel()
    ok = 0
    failures = []
    while not stop.is_set():
        channel = new_channel() if per_call else shared
        try:
            test_pb2_grpc.TestServiceStub(channel).EmptyCall(empty_pb2.Empty(), timeout=10)
            ok += 1
            if ok % 10 == 0:
                print("ok", ok, flush=True)
        except grpc.RpcError as e:
            failures.append(f"{e.code().name}: {e.details()}")
        finally:
            if per_call:
                channel.close()
    if shared is not None:
        shared.close()
    print("done", ok, len(failures), flush=True)
    for failure in failures[:10]:
        print("failed", failure, flush=True)


if __name__ == "__main__":
    main()
