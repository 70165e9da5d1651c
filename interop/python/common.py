"""Generates the grpc.testing Python stubs from interop/proto with grpcio-tools.

The protos import each other as "grpc/testing/...", which as Python modules would
shadow the grpc package itself; so they are copied under src/proto/ with their
imports rewritten, the layout gRPC's own Python tests use.
"""
import os
import pathlib
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
PROTO_DIR = HERE.parent / "proto" / "grpc" / "testing"


def load():
    from grpc_tools import protoc

    out = pathlib.Path(tempfile.mkdtemp(prefix="aqueduct-interop-py-"))
    dst = out / "src" / "proto" / "grpc" / "testing"
    dst.mkdir(parents=True)
    for name in ("empty.proto", "messages.proto", "test.proto"):
        text = (PROTO_DIR / name).read_text()
        text = text.replace('import "grpc/testing/', 'import "src/proto/grpc/testing/')
        (dst / name).write_text(text)
    for pkg in (out / "src", out / "src" / "proto", out / "src" / "proto" / "grpc", dst):
        (pkg / "__init__.py").touch()
    args = ["protoc", f"-I{out}", f"--python_out={out}", f"--grpc_python_out={out}"]
    args += [str(dst / n) for n in ("empty.proto", "messages.proto", "test.proto")]
    if protoc.main(args) != 0:
        raise SystemExit("grpc_tools.protoc failed")
    sys.path.insert(0, str(out))
    from src.proto.grpc.testing import empty_pb2, messages_pb2, test_pb2_grpc

    return empty_pb2, messages_pb2, test_pb2_grpc


def flags(argv):
    """Parses --name value and --name=value."""
    out = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-"):
            raise SystemExit(f"unexpected argument {arg!r}")
        arg = arg.lstrip("-")
        if "=" in arg:
            k, v = arg.split("=", 1)
        else:
            i += 1
            if i >= len(argv):
                raise SystemExit(f"flag --{arg} needs a value")
            k, v = arg, argv[i]
        out[k] = v
        i += 1
    return out
