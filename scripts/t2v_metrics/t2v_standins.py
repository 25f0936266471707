"""Import-only stand-ins for `llava`, `flash_attn` and `pytorchvideo` in the t2v-metrics environment.

`import t2v_metrics` imports every model family it ships. Three of them import modules that cannot
be installed from the package registries next to its pins (LLaVA's repository package, the
flash-attention CUDA extension, pytorchvideo for torchvision 0.20). The Qwen2(.5)-VL and
CLIP-FlanT5 scorers never use them. This finder is appended to the END of `sys.meta_path`
(by `zzz_t2v_standins.pth`), so a real installed package always wins; only when none is found
does it return a stand-in module whose every attribute is a placeholder that raises when used.

Written for this project (scripts/setup_t2v_metrics.sh); not part of t2v-metrics.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types

ROOTS = ("llava", "flash_attn", "pytorchvideo")


class StandInError(ImportError):
    pass


class _Missing:
    """Any name from a stand-in module: usable at import time, raises when really used."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return _Missing(f"{self._name}.{attr}")

    def __call__(self, *args, **kwargs):
        raise StandInError(
            f"{self._name} is an import-only stand-in installed by scripts/setup_t2v_metrics.sh: "
            "the real package is not installed in this environment"
        )

    def __mro_entries__(self, bases):
        return (object,)

    def __repr__(self) -> str:
        return f"<t2v stand-in {self._name}>"


class _StandInModule(types.ModuleType):
    def __getattr__(self, attr: str):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return _Missing(f"{self.__name__}.{attr}")


class _Loader(importlib.abc.Loader):
    def create_module(self, spec):
        module = _StandInModule(spec.name)
        # Libraries that probe for these packages (xformers reads flash_attn.__version__) see a
        # version no range accepts, so they take their fallback as if the package were absent.
        module.__version__ = "0.0.0"
        module.__path__ = []  # a package: any submodule resolves through the finder too
        module.__t2v_standin__ = True
        return module

    def exec_module(self, module) -> None:
        return None


class StandInFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] not in ROOTS:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Loader(), is_package=True)


def install() -> None:
    if not any(isinstance(f, StandInFinder) for f in sys.meta_path):
        sys.meta_path.append(StandInFinder())


install()
