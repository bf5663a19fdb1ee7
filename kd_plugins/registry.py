"""kd_plugins registries: children of mmpretrain's, scope ``kd_plugins``.

With ``default_scope = 'kd_plugins'`` in a config, a ``type`` name is looked
up here first, then in mmpretrain, then in mmengine, so one config can mix
``SSLD`` with mmpretrain's ``ResNet`` and mmengine's ``CheckpointHook``.
From a config in another scope, load the package with
``custom_imports = dict(imports=['kd_plugins'])`` and prefix the names:
``type='kd_plugins.SSLD'``.

Where components go:
    MODELS   algorithms (distillers), losses, connectors, feature taps' owners
    DATASETS unlabeled folders and the labeled+unlabeled mixing wrapper
    HOOKS    training hooks (stage freezing, EMA, queue handling)
"""
from mmengine.registry import Registry
from mmpretrain import registry as mmpretrain_registry

_SCOPE = 'kd_plugins'


def _child(name: str, parent: Registry) -> Registry:
    # Importing the package registers every component, so one location
    # serves all registries.
    return Registry(name, parent=parent, scope=_SCOPE, locations=[_SCOPE])


RUNNERS = _child('runner', mmpretrain_registry.RUNNERS)
RUNNER_CONSTRUCTORS = _child('runner constructor',
                             mmpretrain_registry.RUNNER_CONSTRUCTORS)
LOOPS = _child('loop', mmpretrain_registry.LOOPS)
HOOKS = _child('hook', mmpretrain_registry.HOOKS)
LOG_PROCESSORS = _child('log processor', mmpretrain_registry.LOG_PROCESSORS)
OPTIMIZERS = _child('optimizer', mmpretrain_registry.OPTIMIZERS)
OPTIM_WRAPPERS = _child('optimizer_wrapper',
                        mmpretrain_registry.OPTIM_WRAPPERS)
OPTIM_WRAPPER_CONSTRUCTORS = _child(
    'optimizer wrapper constructor',
    mmpretrain_registry.OPTIM_WRAPPER_CONSTRUCTORS)
PARAM_SCHEDULERS = _child('parameter scheduler',
                          mmpretrain_registry.PARAM_SCHEDULERS)

DATASETS = _child('dataset', mmpretrain_registry.DATASETS)
DATA_SAMPLERS = _child('data sampler', mmpretrain_registry.DATA_SAMPLERS)
TRANSFORMS = _child('transform', mmpretrain_registry.TRANSFORMS)

MODELS = _child('model', mmpretrain_registry.MODELS)
MODEL_WRAPPERS = _child('model_wrapper', mmpretrain_registry.MODEL_WRAPPERS)
WEIGHT_INITIALIZERS = _child('weight initializer',
                             mmpretrain_registry.WEIGHT_INITIALIZERS)
TASK_UTILS = _child('task util', mmpretrain_registry.TASK_UTILS)

METRICS = _child('metric', mmpretrain_registry.METRICS)
EVALUATORS = _child('evaluator', mmpretrain_registry.EVALUATORS)

VISUALIZERS = _child('visualizer', mmpretrain_registry.VISUALIZERS)
VISBACKENDS = _child('vis_backend', mmpretrain_registry.VISBACKENDS)
