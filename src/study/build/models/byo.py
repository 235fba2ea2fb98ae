"""Bring your own model: a model file or a factory, named in a profile's model list like a zoo model.

- ``path/to/model.onnx``, ``.tflite`` or ``.pte``: run as given in its runtime; the input shape is
  read from the file (``@1x28x28`` after the path overrides it, for dynamic dimensions). A model with
  several inputs, or inputs that are not float32 (integers, booleans), has each input's name, shape and
  dtype read from the file; ``@name=1x64,state=2x1x64`` sets full shapes per input, and ``sr:=16000`` fixes an
  input's value (every case feeds it; the PyTorch routes read it as a constant, so an ``If`` on it folds away);
- ``path/to/model.pt@3x224x224``: a TorchScript archive (``torch.jit.save``), loaded with
  ``torch.jit.load`` and converted like a PyTorch model; TorchScript does not declare its input, so
  the shape after ``@`` is required;
- ``package.module:factory``: a function returning ``(model, example_input)`` where the model is a
  ``torch.nn.Module`` or a ``keras.Model``; it is converted to every target like a zoo model.

Nothing is unpickled: TorchScript and the other formats have their own loaders. What a model is
(framework, input shape) is found by ``probe`` in a subprocess, so a truncated file or a factory that
raises is one recorded failure; the answer is cached in ``artifacts/<model>/probe.json``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from study.core import paths
from study.core.errors import StudyError

FILE_FRAMEWORKS = {".onnx": "onnx", ".tflite": "tflite", ".pte": "executorch", ".pt": "torch"}
FACTORY = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
SHAPE = re.compile(r"^\d+(x\d+)*$")
_NAMED_PART = r"[^=:,@]+(=\d+(x\d+)*|:=-?\d+(\.\d+)?)"
NAMED_SHAPES = re.compile(rf"^{_NAMED_PART}(,{_NAMED_PART})*$")


@dataclass(frozen=True)
class FixedValue:
    """An input declared with its value (``sr:=16000``): its shape stays the file's."""
    value: float


def split_ref(ref: str) -> tuple[str, tuple[int, ...] | dict | None]:
    """``path@1x2x3`` -> (path, (1, 2, 3)); ``path@a=1x8,b=1x1`` -> (path, {"a": (1, 8), "b": (1, 1)}), full
    shapes per input; a ref without ``@`` has no declared shape."""
    base, at, shape = ref.rpartition("@") if "@" in ref else (ref, "", "")
    if not at:
        return ref, None
    if NAMED_SHAPES.match(shape):
        declared: dict = {}
        for part in shape.split(","):
            if ":=" in part:
                name, value = part.split(":=")
                declared[name] = FixedValue(float(value) if "." in value else int(value))
            else:
                name, dims = part.split("=")
                declared[name] = tuple(int(d) for d in dims.split("x"))
        return base, declared
    if not SHAPE.match(shape):
        raise StudyError(f"model '{ref}': the shape after @ must be dimensions joined by x, such as 3x224x224, or "
                         "per input name=dimensions joined by commas, such as x=1x8x16,state=1x1x32")
    return base, tuple(int(d) for d in shape.split("x"))


def file_path(ref: str) -> Path:
    base, _ = split_ref(ref)
    path = Path(base).expanduser()
    return path if path.is_absolute() else paths.root() / path


def kind(ref: str) -> str | None:
    """``file`` or ``factory`` for a bring-your-own reference, None for anything else."""
    base, _ = split_ref(ref) if "@" in ref else (ref, None)
    if Path(base).suffix in FILE_FRAMEWORKS:
        return "file"
    if FACTORY.match(ref):
        return "factory"
    return None


def check(ref: str) -> None:
    """Raise StudyError with the fix if ``ref`` cannot name a bring-your-own model."""
    what = kind(ref)
    if what is None:
        raise StudyError(f"unknown model '{ref}'")
    base, shape = split_ref(ref)
    if what == "file":
        if not file_path(ref).is_file():
            raise StudyError(f"model file '{base}' not found (looked at {file_path(ref)})")
        if Path(base).suffix == ".pt" and shape is None:
            raise StudyError(f"model '{ref}': a TorchScript .pt file does not declare its input; "
                             f"write its shape without the batch, such as {base}@3x224x224")


def probe_path(ref: str) -> Path:
    return paths.model_artifacts_dir(ref) / "probe.json"


def load_factory(ref: str):
    import importlib

    module_name, _, function = ref.partition(":")
    return getattr(importlib.import_module(module_name), function)


def _call_factory(ref: str):
    import numpy as np

    model, example = load_factory(ref)()
    return model, np.asarray(example, dtype=np.float32)


def _framework_of(model) -> str:
    try:
        import torch

        if isinstance(model, torch.nn.Module):
            return "torch"
    except ImportError:
        pass
    try:
        import keras

        if isinstance(model, keras.Model):
            return "keras"
    except ImportError:
        pass
    raise TypeError(f"the factory returned a {type(model).__name__}: expected a torch.nn.Module or a keras.Model")


def _graph_inputs(path: Path, framework: str) -> list[dict]:
    """Every input a model file declares: name, full shape (0 where free) and numpy dtype; loading proves it."""
    if framework == "onnx":
        import onnx
        from onnx import helper

        model = onnx.load(str(path))
        onnx.checker.check_model(model)
        initializers = {i.name for i in model.graph.initializer}
        return [{"name": i.name, "shape": [d.dim_value for d in i.type.tensor_type.shape.dim],
                 "dtype": str(helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type))}
                for i in model.graph.input if i.name not in initializers]
    if framework == "tflite":
        from ai_edge_litert.interpreter import Interpreter

        return [{"name": d["name"], "shape": [int(n) if n > 0 else 0 for n in d.get("shape_signature", d["shape"])],
                 "dtype": str(d["dtype"].__name__ if hasattr(d["dtype"], "__name__") else d["dtype"])}
                for d in Interpreter(model_path=str(path)).get_input_details()]
    if framework == "executorch":
        from executorch.runtime import Runtime

        method = Runtime.get().load_program(path).load_method("forward")
        return [{"name": "input", "shape": list(method.metadata.input_tensor_meta(0).sizes()), "dtype": "float32"}]
    raise ValueError(f"no input reader for {framework}")


def _file_inputs(path: Path, framework: str, declared) -> tuple[tuple[int, ...], list[dict]]:
    """(per-sample shape of the first input, every input's spec when there are several or any is not float32)."""
    found = _graph_inputs(path, framework)
    if isinstance(declared, dict):
        unknown = sorted(set(declared) - {i["name"] for i in found})
        if unknown:
            raise ValueError(f"no input named {', '.join(unknown)}: the file's inputs are "
                             f"{', '.join(i['name'] for i in found)}")
        for spec in found:
            given = declared.get(spec["name"])
            if isinstance(given, FixedValue):
                spec["value"] = given.value
            elif given is not None:
                spec["shape"] = list(given)
    elif declared is not None:
        found[0]["shape"] = [1, *declared]
    several = len(found) > 1 or any(i["dtype"] != "float32" for i in found)
    for spec in found:
        if spec["shape"] and spec["shape"][0] == 0:
            spec["shape"][0] = 1  # a free batch dimension: every case of such a model runs at batch 1
        free = [i for i, d in enumerate(spec["shape"]) if d <= 0]
        if free or len(spec["shape"]) < (0 if several else 2):
            example = ",".join(f"{i['name']}=1x..." for i in found) if several else "3x224x224"
            raise ValueError(f"input {spec['name']!r} dimensions {spec['shape']} are not all fixed: declare them "
                             f"after @, such as model{path.suffix}@{example}")
    return tuple(found[0]["shape"][1:]), (found if several else [])


def _computes_on_shapes(path: Path) -> bool:
    """Whether an ONNX graph reads its own tensors' shapes (Shape, Size): such a model is measured at batch 1, with
    that dimension fixed too, so its shape arithmetic folds to constants before any converter runs."""
    import onnx

    return any(node.op_type in ("Shape", "Size") for node in onnx.load(str(path), load_external_data=False).graph.node)


def probe(ref: str) -> dict:
    """What the model is: framework and per-sample input shape. Runs in a worker subprocess."""
    base, declared = split_ref(ref)
    if kind(ref) == "file":
        path = file_path(ref)
        framework = FILE_FRAMEWORKS[path.suffix]
        if framework == "torch":
            import torch

            torch.jit.load(str(path), map_location="cpu")  # readable TorchScript, or the error
            return {"framework": "torch", "input_shape": list(declared), "source": str(path)}
        shape, inputs = _file_inputs(path, framework, declared)
        return {"framework": framework, "input_shape": list(shape), "inputs": inputs, "source": str(path),
                "batch_one_only": framework == "onnx" and _computes_on_shapes(path)}
    model, example = _call_factory(ref)
    return {"framework": _framework_of(model), "input_shape": list(example.shape[1:]), "source": ref}


def spec(ref: str):
    """The ModelSpec of a probed bring-your-own model (``convert.model_spec`` probes first)."""
    from study.build.models.spec import ModelSpec

    record_file = probe_path(ref)
    if not record_file.exists():
        raise StudyError(f"model '{ref}' has not been probed. Fix: python -m study convert --model '{ref}'")
    probed = json.loads(record_file.read_text())
    if probed.get("status") != "ok":
        raise StudyError(f"model '{ref}': {probed.get('error')}")
    framework = probed["framework"]
    if kind(ref) == "file":
        # a TFLite file reaches PyTorch eager as its ONNX file does (tf2onnx, then onnx2torch); a .pte has no
        # PyTorch source at all
        define = {"torch": lambda: _load_torchscript(ref), "onnx": lambda: _onnx_module(ref, probed),
                  "tflite": lambda: _onnx_module(ref, probed)}.get(framework, lambda: _no_module(ref, framework))
        description = f"your {Path(split_ref(ref)[0]).suffix} file {split_ref(ref)[0]}"
    else:
        define = lambda: _call_factory(ref)[0]  # noqa: E731
        description = f"your factory {ref}"
    return ModelSpec(name=ref, framework=framework, input_shape=tuple(probed["input_shape"]),
                     description=description, define=define, inputs=tuple(probed.get("inputs") or ()),
                     batch_one_only=bool(probed.get("batch_one_only")))


def _no_module(ref: str, framework: str):
    raise StudyError(f"model '{ref}': a {framework} file has no PyTorch module to run eager; its own runtime runs it")


def _load_torchscript(ref: str):
    import torch

    torch.manual_seed(0)
    return torch.jit.load(str(file_path(ref)), map_location="cpu").eval()


def _onnx_module(ref: str, probed: dict):
    """The architecture of a user's ONNX file as a PyTorch module (PyTorch eager loads its state_dict into it)."""
    from study.build.export import onnx_torch
    from study.build.models.spec import ModelSpec

    inputs_only = ModelSpec(ref, "onnx", tuple(probed["input_shape"]), "", lambda: None,
                            inputs=tuple(probed.get("inputs") or ()), batch_one_only=bool(probed.get("batch_one_only")))
    return onnx_torch.module(inputs_only, file_path(ref))
