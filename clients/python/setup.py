"""Build hook of the ddc Python client: generates the gRPC stubs from the
repository's protos while the package is built.

Nothing generated is committed. `build_py` runs `grpc_tools.protoc` on
`proto/ddc/v1/*.proto` and puts the modules into the package as
`ddc_client/_proto/ddc/v1/<name>_pb2.py` and `<name>_pb2_grpc.py`.

protoc writes imports for the proto package layout (`from ddc.v1 import
common_pb2`), which would need a top-level `ddc` package on `sys.path`.
The hook rewrites exactly those lines into relative imports (`from . import
common_pb2`) and fails the build if any absolute `ddc` import is left, so
the stubs only ever import each other inside `ddc_client._proto.ddc.v1`:
no top-level `ddc` module is installed (nothing can shadow it or clash with
it) and no `sys.path` trick is needed at run time. The protobuf descriptor
pool is unaffected: it knows the files by their proto names
(`ddc/v1/common.proto`), not by their Python module paths.

Where the protos are found, in this order:
  1. `$DDC_PROTO_DIR` (a directory holding `ddc/v1/*.proto`);
  2. `../../proto` relative to this file: the repository checkout. pip
     (21.3 and later) builds a local directory in place, so `pip install
     ./clients/python` runs this file from the checkout, and its own
     directory, not the working directory, anchors the path;
  3. `./proto` next to this file: the copy an sdist carries (see
     `SdistWithProtos`), so a wheel can also be built from an sdist.

The runtime requirements get lower bounds from the grpcio-tools that
generates the stubs: its generated code refuses to load under an older
grpcio or protobuf.
"""

import atexit
import glob
import hashlib
import os
import re
import shutil
import sys
import tempfile

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = "ddc_client"
# The generated subpackages, relative to the package (editable installs list them).
STUB_PACKAGES = ["_proto", "_proto.ddc", "_proto.ddc.v1"]
# What a proto directory must hold.
PROTO_GLOB = os.path.join("ddc", "v1", "*.proto")

# Used when grpcio-tools cannot be asked (it is always there in a normal
# build: pyproject.toml lists it as a build requirement).
FALLBACK_REQUIREMENTS = ["grpcio>=1.62", "protobuf>=4.25"]
OTHER_REQUIREMENTS = [
    "grpcio-status>=1.62",
    "googleapis-common-protos>=1.62",
    "pandas>=1.5",
]


def proto_root():
    """The directory holding `ddc/v1/*.proto`, or a clear failure."""
    candidates = [
        ("$DDC_PROTO_DIR", os.environ.get("DDC_PROTO_DIR")),
        ("the repository checkout", os.path.join(HERE, "..", "..", "proto")),
        ("the sdist's copy", os.path.join(HERE, "proto")),
    ]
    for _, path in candidates:
        if path and glob.glob(os.path.join(path, PROTO_GLOB)):
            return os.path.normpath(path)
    tried = "\n".join(
        f"  {what}: {os.path.normpath(path) if path else '(not set)'}" for what, path in candidates
    )
    sys.exit(
        "ddc-client: cannot find the protos (ddc/v1/*.proto) to generate the gRPC stubs from.\n"
        f"Looked in\n{tried}\n"
        "Install from the repository checkout (`pip install ./clients/python` with pip 21.3 or\n"
        "later, which builds in place), or set DDC_PROTO_DIR to the absolute path of the repository's proto/ directory."
    )


def runtime_requirements():
    """grpcio and protobuf at least as new as the generator's, plus the rest.

    The protobuf gencode embeds the protoc version it was made by and refuses
    an older runtime; grpcio-tools requires exactly that protobuf range of
    itself, so the same range is required here. The `_pb2_grpc` modules
    refuse a grpcio older than the grpcio-tools that wrote them.
    """
    try:
        from importlib import metadata

        tools = metadata.version("grpcio-tools")
        protobuf = [
            r.split(";")[0].replace(" ", "")
            for r in metadata.requires("grpcio-tools") or []
            if re.match(r"^protobuf\b", r) and "extra ==" not in r
        ]
    except Exception:  # not installed (setup.py run by hand): a plain floor
        return FALLBACK_REQUIREMENTS + OTHER_REQUIREMENTS
    release = ".".join(tools.split(".")[:3])
    requirements = [f"grpcio>={release}"]
    requirements += protobuf or ["protobuf"]
    return requirements + OTHER_REQUIREMENTS


def generate(out_dir):
    """Generates the stubs into `out_dir/_proto/ddc/v1/` (replacing what is
    there) and returns the names of the modules written."""
    from grpc_tools import protoc

    root = proto_root()
    protos = sorted(glob.glob(os.path.join(root, PROTO_GLOB)))
    # grpcio-tools' bundled well-known types (google/protobuf/*.proto), for
    # any proto that imports them.
    well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    work = tempfile.mkdtemp(prefix="ddc-client-stubs-")
    try:
        args = [
            "grpc_tools.protoc",
            f"--proto_path={root}",
            f"--proto_path={well_known}",
            f"--python_out={work}",
            f"--grpc_python_out={work}",
        ] + [os.path.relpath(p, root) for p in protos]
        # protoc resolves the files against --proto_path, so run it from the root.
        cwd = os.getcwd()
        os.chdir(root)
        try:
            status = protoc.main(args)
        finally:
            os.chdir(cwd)
        if status != 0:
            sys.exit(f"ddc-client: grpc_tools.protoc failed (exit {status}) on {root}")

        generated = os.path.join(work, "ddc", "v1")
        modules = sorted(f for f in os.listdir(generated) if f.endswith(".py"))
        for name in modules:
            _relativise_imports(os.path.join(generated, name))

        digest = hashlib.sha256()
        for p in protos:
            digest.update(os.path.relpath(p, root).encode() + b"\0")
            with open(p, "rb") as f:
                digest.update(f.read())
        _write(
            os.path.join(work, "__init__.py"),
            '"""gRPC stubs generated from the ddc protos at build time (setup.py); do not edit."""\n\n'
            f"PROTO_FILES = {[os.path.relpath(p, root).replace(os.sep, '/') for p in protos]!r}\n"
            f"PROTO_SHA256 = {digest.hexdigest()!r}\n"
            f"GRPCIO_TOOLS = {_tools_version()!r}\n",
        )
        _write(os.path.join(work, "ddc", "__init__.py"), "")
        _write(os.path.join(generated, "__init__.py"), "")

        target = os.path.join(out_dir, "_proto")
        if os.path.isdir(target):
            shutil.rmtree(target)
        os.makedirs(out_dir, exist_ok=True)
        shutil.copytree(work, target)
        return modules
    finally:
        shutil.rmtree(work, ignore_errors=True)


# protoc's imports between files of one proto package: `from ddc.v1 import
# common_pb2 as ddc_dot_v1_dot_common__pb2` (and `import ddc.v1.x_pb2` in
# some versions).
_FROM_IMPORT = re.compile(r"^(\s*)from ddc\.v1 import ", re.M)
_PLAIN_IMPORT = re.compile(r"^(\s*)import ddc\.v1\.(\w+)( as \w+)?\s*$", re.M)
_ANY_DDC_IMPORT = re.compile(r"^\s*(from|import)\s+ddc\b", re.M)


def _relativise_imports(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = _FROM_IMPORT.sub(r"\1from . import ", text)
    text = _PLAIN_IMPORT.sub(lambda m: f"{m.group(1)}from . import {m.group(2)}{m.group(3) or ''}", text)
    left = _ANY_DDC_IMPORT.search(text)
    if left:
        line = text[left.start() : text.find("\n", left.start())].strip()
        sys.exit(f"ddc-client: cannot make this generated import relative in {os.path.basename(path)}: {line}")
    _write(path, text)


def _write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _tools_version():
    try:
        from importlib import metadata

        return metadata.version("grpcio-tools")
    except Exception:
        return "unknown"


class BuildPyWithStubs(build_py):
    """`build_py` that first generates the stubs.

    A normal build writes them straight into the build directory, next to
    the hand-written modules build_py copies there, so the source tree stays
    as committed. An editable install (`pip install -e`) imports from the
    source tree, so there they go into `ddc_client/_proto/` (ignored by git).
    """

    def run(self):
        if getattr(self, "editable_mode", False):
            generate(os.path.join(HERE, PACKAGE))
            for sub in STUB_PACKAGES:
                name = f"{PACKAGE}.{sub}"
                if name not in self.distribution.packages:
                    self.distribution.packages.append(name)
        else:
            generate(os.path.join(self.build_lib, PACKAGE))
        super().run()

    def get_outputs(self, include_bytecode=1):
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            stubs = os.path.join(self.build_lib, PACKAGE, "_proto")
            for dirpath, _, files in os.walk(stubs):
                outputs.extend(os.path.join(dirpath, f) for f in files if f.endswith(".py"))
        return outputs


class SdistWithProtos(sdist):
    """An sdist that carries a copy of the protos (under `proto/`), so that a
    wheel built from it can generate the stubs without the repository."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        root = proto_root()
        for p in glob.glob(os.path.join(root, PROTO_GLOB)):
            rel = os.path.relpath(p, root)
            dest = os.path.join(base_dir, "proto", rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copyfile(p, dest)


def _private_build_base():
    """A build directory of this process's own, removed when it ends: two
    builds from the same checkout at once (parallel test jobs) then never
    share or trample a `build/` directory in the source tree."""
    base = tempfile.mkdtemp(prefix="ddc-client-build-")
    atexit.register(shutil.rmtree, base, True)
    return base


setup(
    install_requires=runtime_requirements(),
    cmdclass={"build_py": BuildPyWithStubs, "sdist": SdistWithProtos},
    options={"build": {"build_base": _private_build_base()}},
)
