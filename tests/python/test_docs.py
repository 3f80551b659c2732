"""Every public class and function of the training stack (nn, nn.init,
nn.utils, optim, optim.lr_scheduler, data, save/load) has a docstring with
a short example (an indented code line), and every public method a docstring."""
import inspect
import re

import pytest

import nthgrad as ng

PACKAGES = [ng.nn, ng.nn.init, ng.nn.utils, ng.optim, ng.optim.lr_scheduler, ng.data, ng.surrogate, ng.snn, ng.hard,
            ng.ste, ng.dab, ng.func, ng.distributed]
# In the raw docstring of a top-level class or function, the text is indented by 4 spaces and an example
# by at least 8: a line so indented that calls or assigns.
EXAMPLE = re.compile(r"\n {8,}\S[^\n]*[(=]")


def _public():
    seen = {}
    for package in PACKAGES:
        for name in getattr(package, "__all__", []):
            obj = getattr(package, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                seen[f"{package.__name__}.{name}"] = obj
    seen["nthgrad.save"], seen["nthgrad.load"] = ng.save, ng.load
    return seen


PUBLIC = _public()


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_api_has_a_docstring_with_an_example(name):
    obj = PUBLIC[name]
    doc = obj.__doc__ or ""
    assert doc.strip(), f"{name} has no docstring"
    if inspect.isclass(obj):  # a layer family may show its example once, in a base class of ours -- but not
        # in a root every class of a kind derives from (Module, Optimizer, LRScheduler): that would pass them all
        roots = {ng.nn.Module, ng.optim.Optimizer, ng.optim.lr_scheduler.LRScheduler} - {obj}
        docs = [c.__doc__ or "" for c in obj.__mro__ if c.__module__.startswith("nthgrad") and c not in roots]
    else:
        docs = [doc]
    assert any(EXAMPLE.search(d) for d in docs), f"{name}: no example in its docstring"


@pytest.mark.parametrize("name", sorted(n for n, o in PUBLIC.items() if inspect.isclass(o)))
def test_public_methods_have_docstrings(name):
    cls = PUBLIC[name]
    missing = []
    for attr, value in vars(cls).items():
        if attr.startswith("_") or not callable(value):
            continue
        if not (inspect.getdoc(getattr(cls, attr)) or "").strip():  # an override may inherit its doc
            missing.append(attr)
    assert not missing, f"{name}: methods without a docstring: {missing}"
