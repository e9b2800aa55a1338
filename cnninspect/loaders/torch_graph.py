"""The forward graphs that PyTorch files carry, read as aten-level call lists.

Two kinds of file hold a forward pass:

* TorchScript archives (``torch.jit.save``) keep it as TorchScript source under ``code/``:
  one class per module, whose ``forward`` calls submodules, ``torch.nn.functional`` helpers
  (also given as source) and ``torch.<aten op>``. That source is parsed with :mod:`ast` and
  walked by a small symbolic interpreter: it is never compiled or run. Submodule calls are
  followed into their class, helper functions into their body, and every ``torch.<op>`` on
  a tensor becomes one :class:`Node`, tagged with the module whose ``forward`` ran it.
  Branches on ``self.training`` take the inference path; a branch whose other side only
  raises takes the side that does not; any other branch on a run-time value stops the
  reading with a reason.
* ``torch.export`` programs (``.pt2``) keep it as JSON (``models/model.json``): aten nodes
  with named arguments, parameters by their ``state_dict`` names, and the input shapes.

Both give the same :class:`AtenGraph`, which the PyTorch loader translates into the neutral
core. Scalars computed from shapes (``x.size(0)``) stay symbolic (:class:`Dim`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, Union

from ..errors import BrokenFile

MAX_NODES = 200_000
MAX_CALL_DEPTH = 64
MAX_UNROLL = 4_096


class GraphUnreadable(Exception):
    """The forward graph cannot be followed (control flow on run-time values, an unknown
    construct); the message says where. The loader falls back to the module tree."""


@dataclass(frozen=True)
class Value:
    """A tensor the graph computes (or takes as an input)."""

    id: int


@dataclass(frozen=True)
class Param:
    """A stored parameter or buffer, by its dotted ``state_dict`` name."""

    name: str


@dataclass(frozen=True)
class Dim:
    """Axis ``axis`` of a tensor's shape: a number known only once shapes are."""

    tensor: Value
    axis: int


@dataclass(frozen=True)
class Sizes:
    """``tensor.size()``: the whole shape, indexable into :class:`Dim`."""

    tensor: Value


class _Unknown:
    """A scalar the graph computes at run time that the reading cannot fold."""

    def __repr__(self) -> str:
        return "?"


UNKNOWN = _Unknown()

Arg = Any  # Value | Param | Dim | Sizes | UNKNOWN | None | bool | int | float | str | list | tuple


@dataclass
class Node:
    """One aten call: ``op`` without namespace or overload (``conv2d``, ``add``, ...)."""

    op: str
    args: list[Arg]
    kwargs: dict[str, Arg]
    outputs: list[Value]
    module: str  # dotted path of the module whose forward ran it; "" for the root
    module_type: str  # that module's class name (``Conv2d``); the root's for the root


@dataclass
class AtenGraph:
    inputs: list[Value]
    input_names: list[str]
    nodes: list[Node]
    outputs: list[Arg]
    # Shapes of the inputs where the file records them (``torch.export``); None elsewhere.
    input_shapes: list[Union[tuple[Union[int, None], ...], None]] = field(default_factory=list)
    # Modules (dotted path → class name) that the graph entered, in the order first entered.
    modules: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------
# TorchScript source


@dataclass
class _Class:
    name: str
    submodules: dict[str, str]  # attribute → class qualname
    params: set[str]
    constants: dict[str, Any]
    methods: dict[str, ast.FunctionDef]


@dataclass(frozen=True)
class _ModuleRef:
    path: str
    qualname: str


@dataclass(frozen=True)
class _Func:
    qualname: str


class _Return(Exception):
    def __init__(self, value: Arg) -> None:
        self.value = value


class _Raised(Exception):
    """The path taken reaches ``ops.prim.RaiseException``."""


def _module_qualname(path: str) -> str:
    """``<top>/code/__torch__/torch/nn/functional.py`` → ``__torch__.torch.nn.functional``."""
    inner = path.split("/code/", 1)[1] if "/code/" in path else path
    return inner.removesuffix(".py").replace("/", ".")


def _literal(node: ast.expr | None) -> Any:
    try:
        return ast.literal_eval(node) if node is not None else None
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return UNKNOWN


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _annotation_type(node: ast.expr) -> str | None:
    """The qualname a class-body annotation names, when it names a ``__torch__`` class."""
    name = _dotted(node)
    return name if name is not None and name.startswith("__torch__.") else None


def _read_class(cls: ast.ClassDef) -> _Class:
    info = _Class(cls.name, {}, set(), {}, {})
    for stmt in cls.body:
        if isinstance(stmt, ast.FunctionDef):
            info.methods[stmt.name] = stmt
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            kind = _annotation_type(stmt.annotation)
            if kind is not None:
                info.submodules[stmt.target.id] = kind
            elif stmt.value is not None:  # ``stride : Final[Tuple[int, int]] = (2, 2)``
                info.constants[stmt.target.id] = _literal(stmt.value)
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, ast.Name) and target.id in ("__parameters__", "__buffers__"):
                value = _literal(stmt.value)
                if isinstance(value, list):
                    info.params.update(v for v in value if isinstance(v, str))
            elif (  # ``__annotations__["0"] = __torch__.Block``: submodules named by numbers
                isinstance(target, ast.Subscript)
                and isinstance(target.value, ast.Name)
                and target.value.id == "__annotations__"
            ):
                key, kind = _literal(target.slice), _annotation_type(stmt.value)
                if isinstance(key, str) and kind is not None:
                    info.submodules[key] = kind
    return info


def _is_raise(stmts: list[ast.stmt]) -> bool:
    """A branch that ends the program: it calls ``ops.prim.RaiseException``."""
    for stmt in stmts:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            if _dotted(stmt.value.func) == "ops.prim.RaiseException":
                return True
    return False


_SCALAR_OPS: dict[str, Callable[..., Any]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "floordiv": lambda a, b: a // b,
    "neg": lambda a: -a,
    "__not__": lambda a: not a,
    "len": len,
}


def _has_tensor(value: Arg) -> bool:
    if isinstance(value, (Value, Param)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_tensor(v) for v in value)
    return False


def _is_constant(value: Arg) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_is_constant(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


class _Interpreter:
    def __init__(self, sources: dict[str, str]) -> None:
        self.classes: dict[str, _Class] = {}
        self.functions: dict[str, ast.FunctionDef] = {}
        for path, text in sources.items():
            qual = _module_qualname(path)
            try:
                tree = ast.parse(text, filename=path)
            except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
                raise BrokenFile(f"TorchScript source {path} does not parse ({type(exc).__name__})") from None
            for stmt in tree.body:
                if isinstance(stmt, ast.ClassDef):
                    self.classes[f"{qual}.{stmt.name}"] = _read_class(stmt)
                elif isinstance(stmt, ast.FunctionDef):
                    self.functions[f"{qual}.{stmt.name}"] = stmt
        self.nodes: list[Node] = []
        self.modules: dict[str, str] = {}
        self.next_id = 0
        self.depth = 0
        self.module_stack: list[_ModuleRef] = []

    # values -------------------------------------------------------------------------

    def new_value(self) -> Value:
        self.next_id += 1
        return Value(self.next_id)

    def cls(self, ref: _ModuleRef) -> _Class:
        found = self.classes.get(ref.qualname)
        if found is None:
            raise GraphUnreadable(f"module '{ref.path or '(root)'}' has class {ref.qualname}, whose code is not in the file")
        return found

    # calls ---------------------------------------------------------------------------

    def run_root(self, root: str) -> AtenGraph:
        ref = _ModuleRef("", root)
        forward = self.cls(ref).methods.get("forward")
        if forward is None:
            raise GraphUnreadable(f"{root} has no forward()")
        params = [a.arg for a in forward.args.args[1:]]
        inputs = [self.new_value() for _ in params]
        out = self.call(forward, [ref, *inputs], {}, ref)
        return AtenGraph(inputs, params, self.nodes, out if isinstance(out, list) else [out], modules=self.modules)

    def call(self, fn: ast.FunctionDef, args: list[Arg], kwargs: dict[str, Arg], module: _ModuleRef | None) -> Arg:
        self.depth += 1
        if self.depth > MAX_CALL_DEPTH:
            raise GraphUnreadable(f"calls nest deeper than {MAX_CALL_DEPTH} in {fn.name}()")
        names = [a.arg for a in fn.args.args]
        defaults = fn.args.defaults
        env: dict[str, Arg] = {}
        for i, name in enumerate(names):
            if i < len(args):
                env[name] = args[i]
            elif name in kwargs:
                env[name] = kwargs[name]
            else:
                d = i - (len(names) - len(defaults))
                env[name] = _literal(defaults[d]) if d >= 0 else UNKNOWN
        if module is not None:
            self.module_stack.append(module)
            self.modules.setdefault(module.path, self.cls(module).name)
        try:
            self.block(fn.body, env)
            return None
        except _Return as ret:
            return ret.value
        finally:
            self.depth -= 1
            if module is not None:
                self.module_stack.pop()

    def block(self, stmts: list[ast.stmt], env: dict[str, Arg]) -> None:
        for stmt in stmts:
            self.statement(stmt, env)

    def statement(self, stmt: ast.stmt, env: dict[str, Arg]) -> None:
        if isinstance(stmt, ast.Return):
            raise _Return(self.eval(stmt.value, env) if stmt.value is not None else None)
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            self.assign(stmt.targets[0], self.eval(stmt.value, env), env)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self.assign(stmt.target, self.eval(stmt.value, env), env)
        elif isinstance(stmt, ast.Expr):
            self.eval(stmt.value, env)
        elif isinstance(stmt, ast.If):
            self.branch(stmt, env)
        elif isinstance(stmt, ast.For):
            self.loop(stmt, env)
        elif not isinstance(stmt, ast.Pass):
            raise GraphUnreadable(f"a {type(stmt).__name__} statement at line {stmt.lineno} of the TorchScript code")

    def assign(self, target: ast.expr, value: Arg, env: dict[str, Arg]) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = value
            return
        if isinstance(target, ast.Tuple) and all(isinstance(t, ast.Name) for t in target.elts):
            count = len(target.elts)
            if isinstance(value, Value) and self.nodes and self.nodes[-1].outputs == [value]:
                self.nodes[-1].outputs = [value] + [self.new_value() for _ in range(count - 1)]
                value = self.nodes[-1].outputs
            if isinstance(value, Sizes):
                value = [Dim(value.tensor, i) for i in range(count)]
            if isinstance(value, (list, tuple)) and len(value) == count:
                for t, v in zip(target.elts, value):
                    env[t.id] = v  # type: ignore[attr-defined]
                return
        raise GraphUnreadable(f"an assignment at line {target.lineno} of the TorchScript code")

    def branch(self, stmt: ast.If, env: dict[str, Arg]) -> None:
        cond = self.eval(stmt.test, env)
        if isinstance(cond, (bool, int)) or cond is None:
            self.block(stmt.body if cond else stmt.orelse, env)
        elif _is_raise(stmt.body) and not _is_raise(stmt.orelse):
            self.block(stmt.orelse, env)
        elif _is_raise(stmt.orelse) and not _is_raise(stmt.body):
            self.block(stmt.body, env)
        else:
            where = self.module_stack[-1].path if self.module_stack else ""
            raise GraphUnreadable(
                f"the forward of '{where or '(root)'}' branches on a value known only at run time (line {stmt.lineno})"
            )

    def loop(self, stmt: ast.For, env: dict[str, Arg]) -> None:
        items = self.eval(stmt.iter, env)
        if not isinstance(items, (list, tuple)) or len(items) > MAX_UNROLL or stmt.orelse:
            raise GraphUnreadable(f"a loop over a value known only at run time (line {stmt.lineno})")
        for item in items:
            self.assign(stmt.target, item, env)
            self.block(stmt.body, env)

    # expressions ---------------------------------------------------------------------

    def eval(self, node: ast.expr, env: dict[str, Arg]) -> Arg:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in env:
                return env[node.id]
            return _Func(node.id)
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.eval(e, env) for e in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, env)
        if isinstance(node, ast.Subscript):
            return self.subscript(self.eval(node.value, env), self.eval(node.slice, env))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
            operand = self.eval(node.operand, env)
            if _is_constant(operand) and operand is not None:
                return -operand if isinstance(node.op, ast.USub) else not operand
            return UNKNOWN
        if isinstance(node, ast.Call):
            return self.invoke(node, env)
        raise GraphUnreadable(f"a {type(node).__name__} expression at line {node.lineno} of the TorchScript code")

    def attribute(self, node: ast.Attribute, env: dict[str, Arg]) -> Arg:
        root = node.value
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and root.id not in env:
            return _Func(_dotted(node) or node.attr)  # ``torch.conv2d``, ``__torch__.torch.nn.functional.relu``
        base = self.eval(node.value, env)
        if isinstance(base, _ModuleRef):
            return self.member(base, node.attr)
        raise GraphUnreadable(f"attribute '{node.attr}' of a run-time value (line {node.lineno})")

    def member(self, ref: _ModuleRef, name: str) -> Arg:
        info = self.cls(ref)
        path = f"{ref.path}.{name}" if ref.path else name
        if name in info.submodules:
            return _ModuleRef(path, info.submodules[name])
        if name in info.params:
            return Param(path)
        if name in info.constants:
            return info.constants[name]
        if name == "training":
            return False
        if name in info.methods:
            return ("method", ref, name)
        return UNKNOWN

    def subscript(self, base: Arg, index: Arg) -> Arg:
        if isinstance(base, Sizes) and isinstance(index, int):
            return Dim(base.tensor, index)
        if isinstance(base, (list, tuple)) and isinstance(index, int) and -len(base) <= index < len(base):
            return base[index]
        if isinstance(base, Value):
            return self.emit("__getitem__", [base, index], {})
        return UNKNOWN

    def invoke(self, node: ast.Call, env: dict[str, Arg]) -> Arg:
        args = [self.eval(a, env) for a in node.args]
        kwargs = {k.arg: self.eval(k.value, env) for k in node.keywords if k.arg is not None}
        if isinstance(node.func, ast.Attribute):
            owner = self.eval(node.func.value, env) if not isinstance(node.func.value, ast.Name) or node.func.value.id in env else None
            if isinstance(owner, _ModuleRef):  # ``(conv1).forward(x)``, ``(self)._conv_forward(...)``
                method = self.cls(owner).methods.get(node.func.attr)
                if method is None:
                    raise GraphUnreadable(f"module '{owner.path}' has no method {node.func.attr}()")
                return self.call(method, [owner, *args], kwargs, owner)
        func = self.eval(node.func, env)
        if isinstance(func, tuple) and func and func[0] == "method":
            _, owner, name = func
            return self.call(self.cls(owner).methods[name], [owner, *args], kwargs, owner)
        if not isinstance(func, _Func):
            raise GraphUnreadable(f"a call of a run-time value (line {node.lineno})")
        return self.apply(func.qualname, args, kwargs, node.lineno)

    def apply(self, name: str, args: list[Arg], kwargs: dict[str, Arg], line: int) -> Arg:
        if name in self.functions:
            return self.call(self.functions[name], args, kwargs, None)
        if name == "ops.prim.RaiseException":
            raise _Raised()
        if name in ("annotate", "unchecked_cast"):
            return args[1]
        if name == "ops.prim.NumToTensor" and len(args) == 1:  # a traced ``x.size(0)``
            return args[0]
        if name == "getattr" and len(args) == 2 and isinstance(args[0], _ModuleRef) and isinstance(args[1], str):
            return self.member(args[0], args[1])
        if name in ("int", "float", "bool") and len(args) == 1:
            if isinstance(args[0], Dim):
                return args[0]
            if _is_constant(args[0]):
                return {"int": int, "float": float, "bool": bool}[name](args[0])
            return UNKNOWN
        if name in ("range", "uninitialized", "ops.prim.unchecked_unwrap_optional"):
            return list(range(*args)) if name == "range" and all(isinstance(a, int) for a in args) else UNKNOWN
        if name.startswith("CONSTANTS."):
            return Param(name)
        if name.startswith("torch."):
            return self.aten(name[len("torch."):], args, kwargs)
        if name.startswith("ops.aten."):
            return self.aten(name[len("ops.aten."):], args, kwargs)
        raise GraphUnreadable(f"a call of {name}() at line {line}, which the file does not define")

    def aten(self, op: str, args: list[Arg], kwargs: dict[str, Arg]) -> Arg:
        if not _has_tensor(args) and not _has_tensor(list(kwargs.values())):
            return self.fold(op, args)
        if op in ("size",) and len(args) == 1 and isinstance(args[0], Value):
            return Sizes(args[0])
        if op in ("size",) and len(args) == 2 and isinstance(args[0], Value) and isinstance(args[1], int):
            return Dim(args[0], args[1])
        if op in ("dim", "len", "__is__", "__isnot__", "warn", "format"):
            if op == "__is__":
                return False if isinstance(args[0], (Value, Param)) else UNKNOWN
            if op == "__isnot__":
                return True if isinstance(args[0], (Value, Param)) else UNKNOWN
            return UNKNOWN
        return self.emit(op, args, kwargs)

    def fold(self, op: str, args: list[Arg]) -> Arg:
        if op == "__is__":
            return args[0] is args[1] if _is_constant(args) else UNKNOWN
        if op == "__isnot__":
            return args[0] is not args[1] if _is_constant(args) else UNKNOWN
        if op in ("warn", "format"):
            return None
        fn = _SCALAR_OPS.get(op)
        if fn is not None and _is_constant(args):
            try:
                return fn(*args)
            except (TypeError, ZeroDivisionError, ValueError):
                return UNKNOWN
        return UNKNOWN

    def emit(self, op: str, args: list[Arg], kwargs: dict[str, Arg]) -> Value:
        if len(self.nodes) >= MAX_NODES:
            raise GraphUnreadable(f"the graph has more than {MAX_NODES:,} operations")
        module = self.module_stack[-1] if self.module_stack else _ModuleRef("", "")
        out = self.new_value()
        kind = self.modules.get(module.path, "")
        self.nodes.append(Node(op, args, kwargs, [out], module.path, kind))
        return out


def from_torchscript(sources: dict[str, str], root: str) -> AtenGraph:
    """Read the forward graph of TorchScript source files (archive path → text), starting
    at the root module's class ``root`` (``__torch__.Net``)."""
    interpreter = _Interpreter(sources)
    try:
        return interpreter.run_root(root)
    except _Raised:
        raise GraphUnreadable("the forward raises an exception on every path the reading can follow") from None
    except RecursionError:
        raise GraphUnreadable("the TorchScript code nests too deeply") from None


# ---------------------------------------------------------------------------------------
# torch.export


def _export_arg(arg: dict[str, Any], values: dict[str, Value], params: dict[str, str]) -> Arg:
    """One ``Argument`` of the export schema (a one-key union) as a graph argument."""
    if not isinstance(arg, dict) or len(arg) != 1:
        return UNKNOWN
    (kind, body), = arg.items()
    if kind == "as_tensor":
        name = body.get("name") if isinstance(body, dict) else None
        if name in params:
            return Param(params[name])
        return values.get(name, UNKNOWN) if isinstance(name, str) else UNKNOWN
    if kind == "as_tensors":
        return [_export_arg({"as_tensor": t}, values, params) for t in body]
    if kind in ("as_int", "as_float", "as_bool", "as_string", "as_ints", "as_floats", "as_bools", "as_strings"):
        return body
    if kind == "as_none":
        return None
    if kind == "as_sym_int":
        return body.get("as_int", UNKNOWN) if isinstance(body, dict) else UNKNOWN
    if kind == "as_sym_ints":
        return [b.get("as_int", UNKNOWN) if isinstance(b, dict) else UNKNOWN for b in body]
    return UNKNOWN


def _export_dims(meta: dict[str, Any]) -> tuple[Union[int, None], ...]:
    return tuple(d.get("as_int") if isinstance(d, dict) else None for d in meta.get("sizes", []))


def _module_of(metadata: dict[str, Any]) -> tuple[str, str]:
    """The innermost module of a node's ``nn_module_stack``: ``L__self__stem,stem,torch.nn.Conv2d``."""
    stack = metadata.get("nn_module_stack") if isinstance(metadata, dict) else None
    if not isinstance(stack, str) or not stack:
        return "", ""
    parts = stack.split(";")[-1].split(",")
    if len(parts) < 3:
        return "", ""
    path = parts[1].replace("L['self'].", "").replace("getattr(", "")
    return path, parts[-1].rsplit(".", 1)[-1]


def from_export(program: dict[str, Any]) -> AtenGraph:
    """Read the graph of a ``torch.export`` program (``models/model.json``)."""
    try:
        module = program["graph_module"]
        graph, signature = module["graph"], module["signature"]
        specs, nodes_json = signature["input_specs"], graph["nodes"]
    except (KeyError, TypeError):
        raise BrokenFile("the torch.export program has no graph_module/graph/signature") from None
    params: dict[str, str] = {}
    user_inputs: list[str] = []
    for spec in specs:
        if not isinstance(spec, dict) or len(spec) != 1:
            continue
        (kind, body), = spec.items()
        arg = body.get("arg", {}) if isinstance(body, dict) else {}
        name = arg.get("name") or arg.get("as_tensor", {}).get("name")
        if kind in ("parameter", "buffer"):
            params[name] = body.get("parameter_name") or body.get("buffer_name")
        elif kind == "tensor_constant":
            params[name] = body.get("tensor_constant_name", name)
        elif kind == "user_input":
            user_inputs.append(name)
    counter = iter(range(1, 1 << 62))
    values = {name: Value(next(counter)) for name in user_inputs}
    tensor_meta = graph.get("tensor_values", {})
    nodes: list[Node] = []
    modules: dict[str, str] = {}
    for entry in nodes_json:
        target = str(entry.get("target", ""))
        # ``torch.ops.aten.conv2d.default``: the op without namespace and overload
        op = target.split(".")[3] if target.startswith("torch.ops.") and target.count(".") >= 4 else target
        args: list[Arg] = []
        kwargs: dict[str, Arg] = {}
        for position, item in enumerate(entry.get("inputs", [])):
            value = _export_arg(item.get("arg"), values, params)
            if item.get("kind", 1) == 2:  # keyword-only
                kwargs[item.get("name", str(position))] = value
            else:
                args.append(value)
        outputs = []
        for out in entry.get("outputs", []):
            names = [out["as_tensor"]["name"]] if "as_tensor" in out else [t["name"] for t in out.get("as_tensors", [])]
            for name in names:
                values[name] = Value(next(counter))
                outputs.append(values[name])
        path, kind = _module_of(entry.get("metadata", {}))
        if path:
            modules.setdefault(path, kind)
        nodes.append(Node(op, args, kwargs, outputs, path, kind))
    outputs = [_export_arg(o, values, params) for o in graph.get("outputs", [])]
    shapes: list[Optional[tuple[Optional[int], ...]]] = [_export_dims(tensor_meta.get(n, {})) for n in user_inputs]
    return AtenGraph([values[n] for n in user_inputs], user_inputs, nodes, outputs, shapes, modules)


def walk_values(arg: Arg) -> Iterator[Value]:
    """The tensors an argument refers to, lists included."""
    if isinstance(arg, Value):
        yield arg
    elif isinstance(arg, (list, tuple)):
        for item in arg:
            yield from walk_values(item)
