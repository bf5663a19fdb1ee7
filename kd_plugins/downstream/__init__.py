"""Hand distilled backbones to mmdet / mmseg / mmpretrain, verified.

- :mod:`.key_mapping`: key names across the toolboxes' ResNet, ResNetV1c and
  MobileNetV2, and the checked mapping between them;
- :mod:`.target`: the downstream backbone, built by its own toolbox;
- :mod:`.check_hook`: ``DistilledBackboneCheckHook``, which stops a run at
  start when the distilled weights did not all load;
- :mod:`.backbone_eval`: cosine k-NN on a backbone's pooled features, and
  a classifier built around an exported backbone (checked to load).

Name it from any toolbox's config with
``custom_imports = dict(imports=['kd_plugins.downstream'])``.
"""
from .check_hook import (
                         DistilledBackboneCheckHook,
                         compare_loaded,
                         load_backbone_file,
                         pretrained_source,
)
from .key_mapping import (
                         canonical_names,
                         describe,
                         inspect_backbone,
                         map_state_to_target,
)

__all__ = ['DistilledBackboneCheckHook', 'canonical_names', 'compare_loaded',
           'describe', 'inspect_backbone', 'load_backbone_file',
           'map_state_to_target', 'pretrained_source']
