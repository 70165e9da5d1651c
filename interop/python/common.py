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


def usage_error(message):
    """A usage mistake: the message on stderr, exit 2 (as our binaries do)."""
    print(f"{pathlib.Path(sys.argv[0]).name}: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def flags(argv, known=None):
    """Parses --name value and --name=value; with `known`, any other flag is
    refused (exit 2), so a mistyped TLS flag cannot quietly run in plaintext."""
    out = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-"):
            usage_error(f"unexpected argument {arg!r}")
        arg = arg.lstrip("-")
        if "=" in arg:
            k, v = arg.split("=", 1)
        else:
            i += 1
            if i >= len(argv):
                usage_error(f"flag --{arg} needs a value")
            k, v = arg, argv[i]
        if known is not None and k not in known:
            usage_error(f"unknown flag --{k}; the flags are " + ", ".join(f"--{n}" for n in known))
        out[k] = v
        i += 1
    return out


def boolean(f, name):
    """A true|false flag, false when absent."""
    value = f.get(name, "false")
    if value not in ("true", "false"):
        usage_error(f"--{name} takes true or false, not {value!r}")
    return value == "true"


def use_tls(f, tls_only):
    """Whether --use_tls is true; a flag of `tls_only` without it is refused."""
    on = boolean(f, "use_tls")
    stray = [name for name in tls_only if name in f]
    if stray and not on:
        usage_error(f"--{stray[0]} needs --use_tls true")
    return on


def read(f, name):
    """The bytes of the file flag `name` names, or None if it is not given."""
    if name not in f:
        return None
    try:
        return pathlib.Path(f[name]).read_bytes()
    except OSError as e:
        usage_error(f"--{name}: cannot read {f[name]}: {e.strerror}")
