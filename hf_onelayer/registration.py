"""Our models, tokenizer and pipeline registered with transformers: when used, not at ``import hf_onelayer``.

:func:`register` makes both kinds known to the Auto classes (``kinds.py`` registers each kind as it is imported)
and the translation task to transformers' pipeline registry. The package calls it before its own loads; and
:func:`register_when_transformers_is_used` calls it as soon as a user's code imports transformers' Auto classes or
pipelines, so that ``import hf_onelayer`` keeps its promise (our folders load without ``trust_remote_code``)
without importing torch and transformers itself.
"""

import importlib
import importlib.abc
import sys

# The modules whose import means "transformers' Auto classes / pipelines are in use".
AUTO_MODULE, PIPELINES_MODULE = "transformers.models.auto.modeling_auto", "transformers.pipelines"
_done = {"models": False, "pipeline": False}


def register() -> None:
    """Register both kinds with the Auto classes and the task "onelayer-translation" with the pipeline registry."""
    _register_models()
    _register_pipeline()


def _register_models() -> None:
    if not _done["models"]:
        kinds = importlib.import_module("hf_onelayer.kinds")  # registers each kind with the Auto classes
        if hasattr(kinds, "KINDS"):  # not while kinds.py itself is being imported: it finishes the job then
            _done["models"] = True


def _register_pipeline() -> None:
    if _done["pipeline"]:
        return
    _done["pipeline"] = True  # set first: importing the pipelines below runs the hook that calls this again
    try:
        from transformers.pipelines import PIPELINE_REGISTRY

        from .kinds import KINDS
        from .models.pipeline_onelayer import TASK, OneLayerTranslationPipeline
        from .models.tokenization_onelayer import OneLayerTranslatorTokenizer
    except ImportError:
        _done["pipeline"] = False
        raise

    OneLayerTranslatorTokenizer.register_for_auto_class("AutoTokenizer")
    # each kind loads through its own Auto class (the encoder–decoder AutoModelForSeq2SeqLM, the course model
    # AutoModel), encoder–decoders' first: the order that saved folders record in custom_pipelines
    kinds = sorted(KINDS.values(), key=lambda kind: not kind.is_encoder_decoder)
    PIPELINE_REGISTRY.register_pipeline(TASK, pipeline_class=OneLayerTranslationPipeline,
                                        pt_model=tuple(dict.fromkeys(kind.auto_class for kind in kinds)))


class _ThenRegister(importlib.abc.Loader):
    """A module's own loader, then :func:`register` once the module has run."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        try:
            _register_models() if module.__name__ == AUTO_MODULE else register()
        except ImportError:  # one of our own modules is mid-import (it imported transformers): it registers itself
            pass

    def __getattr__(self, name):  # get_source, is_package, ...: the module's own loader's
        return getattr(self.loader, name)


class _AfterTransformers(importlib.abc.MetaPathFinder):
    """Finds nothing itself: hands the other finders' spec of the Auto or pipelines module back with
    :class:`_ThenRegister` around its loader."""

    def find_spec(self, name, path, target=None):
        if name not in (AUTO_MODULE, PIPELINES_MODULE):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _ThenRegister(spec.loader)
                return spec
        return None


def register_when_transformers_is_used() -> None:
    """:func:`register` now if transformers' Auto classes are loaded already, else once they (or the pipelines) are."""
    if AUTO_MODULE in sys.modules or PIPELINES_MODULE in sys.modules:
        register()
    elif not any(isinstance(finder, _AfterTransformers) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterTransformers())
