"""The shipped .pyi stubs match the runtime (every public name, and the
signature of every public function and method), and `mypy --strict`
accepts a typed example that uses the public API (and rejects the old
positional scope)."""
import ast
import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path

import tlsresume

HERE = Path(__file__).resolve().parent
STUB = Path(tlsresume.__file__).with_name("__init__.pyi")
KINDS = {"posonly": inspect.Parameter.POSITIONAL_ONLY,
         "args": inspect.Parameter.POSITIONAL_OR_KEYWORD,
         "vararg": inspect.Parameter.VAR_POSITIONAL,
         "kwonly": inspect.Parameter.KEYWORD_ONLY,
         "kwarg": inspect.Parameter.VAR_KEYWORD}
# Methods every object has, or that the dataclass machinery writes.
# Made by dataclasses (CPython 3.13 adds __replace__) or object itself.
IGNORED = {"__init__", "__repr__", "__eq__", "__hash__", "__setattr__",
           "__delattr__", "__getstate__", "__setstate__", "__replace__"}


def stub_tree():
    return ast.parse(STUB.read_text())


def stub_params(fn):
    """[(name, kind, has_default)] of an ast.FunctionDef, as inspect has
    them."""
    a = fn.args
    out = []
    pos = getattr(a, "posonlyargs", []) + a.args
    firstdef = len(pos) - len(a.defaults)
    for i, arg in enumerate(pos):
        kind = KINDS["posonly"] if arg in getattr(a, "posonlyargs", []) \
            else KINDS["args"]
        out.append((arg.arg, kind, i >= firstdef))
    if a.vararg:
        out.append((a.vararg.arg, KINDS["vararg"], False))
    for arg, d in zip(a.kwonlyargs, a.kw_defaults):
        out.append((arg.arg, KINDS["kwonly"], d is not None))
    if a.kwarg:
        out.append((a.kwarg.arg, KINDS["kwarg"], False))
    return out


def runtime_params(obj):
    return [(p.name, p.kind, p.default is not p.empty)
            for p in inspect.signature(obj).parameters.values()]


def top_level(tree):
    names = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign):
            names[node.target.id] = node
    return names


def test_stubs_name_every_public_name():
    stub = top_level(stub_tree())
    public = {n for n in stub if not n.startswith("_")}
    assert set(tlsresume.__all__) == public
    for name in tlsresume.__all__ + ["__version__"]:
        assert hasattr(tlsresume, name), name
        assert name in stub, "%s is missing from the stub" % name


def test_stub_signatures_match_the_runtime():
    stub = top_level(stub_tree())
    checked = 0
    for name in tlsresume.__all__:
        node, obj = stub[name], getattr(tlsresume, name)
        if isinstance(node, ast.FunctionDef):
            assert stub_params(node) == runtime_params(obj), name
            checked += 1
        elif isinstance(node, ast.ClassDef):
            checked += check_class(node, obj)
    assert checked >= 20


def check_class(node, cls):
    """Methods and properties of cls against its stub; dataclass fields
    against the stub's annotations."""
    methods = {n.name: n for n in node.body if isinstance(n, ast.FunctionDef)}
    attrs = {n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}
    checked = 0
    if dataclasses.is_dataclass(cls):
        assert attrs == {f.name for f in dataclasses.fields(cls)}, cls
        checked += 1
    if isinstance(cls, type) and issubclass(cls, BaseException):
        assert attrs == {"code", "code_name"}
        return checked + 1
    for name, value in vars(cls).items():
        if name in IGNORED and name not in methods:
            continue
        if name.startswith("_") and not (name.startswith("__")
                                         and name.endswith("__")):
            continue
        if isinstance(value, property):
            assert name in methods, "%s.%s: no stub" % (cls.__name__, name)
            continue
        if not inspect.isfunction(value):
            continue
        assert name in methods, "%s.%s: no stub" % (cls.__name__, name)
        assert stub_params(methods[name]) == runtime_params(value), \
            "%s.%s" % (cls.__name__, name)
        checked += 1
    for name in methods:
        assert hasattr(cls, name), "%s.%s only in the stub" % (
            cls.__name__, name)
    return checked


def test_session_store_attributes_are_in_the_stub(tmp_path):
    stub = top_level(stub_tree())["SessionStore"]
    attrs = {n.target.id for n in stub.body if isinstance(n, ast.AnnAssign)}
    st = tlsresume.SessionStore(tmp_path / "st")
    public = {k for k in vars(st) if not k.startswith("_")}
    assert public == attrs


def mypy(path, tmp_path):
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
         "--cache-dir", str(tmp_path / "mypy-cache"), str(path)],
        capture_output=True, text=True, timeout=300, cwd=str(tmp_path))


def test_mypy_strict_accepts_the_typed_example(tmp_path):
    p = mypy(HERE / "typed_example.py", tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    # The stubs are what mypy checked against: the old API is an error.
    bad = tmp_path / "old_api.py"
    bad.write_text(
        "import ssl, tlsresume\n"
        "def f(st: tlsresume.SessionStore) -> None:\n"
        "    st.get('h', 443, 'scope')\n"
        "    tlsresume.attach(ssl.create_default_context(), st,\n"
        "                     store_context='x')\n")
    p = mypy(bad, tmp_path)
    assert p.returncode == 1
    assert "old_api.py:3:" in p.stdout and "old_api.py:4:" in p.stdout, \
        p.stdout
