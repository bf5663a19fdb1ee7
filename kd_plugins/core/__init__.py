"""What two or more methods share: the distiller base, the frozen teacher
and its one loader, the normalisation bridge, connectors, the feature loss,
feature taps, checkpoint and distributed helpers, the hooks every config
turns on (``hooks``), and the small CIFAR-style ResNet of the embedded
configs. Nothing here imports a method (``kd_plugins.methods``)."""
from . import (
                         collate,  # noqa: F401  (registers the collate function)
                         teacher_cache,  # noqa: F401  (registers its dataset, sampler)
)
from .checkpoint import (
                         KeyMismatch,
                         compare_keys,
                         listing,
                         read_checkpoint,
                         rename_prefixes,
                         sha256_file,
                         strip_prefix,
)
from .cifar_resnet import CIFARResNet
from .connectors import BaseConnector, ConvConnector, IdentityConnector
from .dist import concat_all_gather_no_grad, unwrap_model
from .distiller import BaseDistiller, build_data_preprocessor
from .feature_loss import FeatureMSELoss, feature_mse
from .feature_tap import resolve_module
from .hooks import DataCheckHook, FiniteLossHook, SafeCheckpointHook
from .normalization import NormalizationBridge, build_bridge
from .teacher import (
                         KEY_MAPS,
                         MOCO_KEY_MAP,
                         FrozenTeacher,
                         TeacherHolder,
                         build_frozen_teacher,
                         load_teacher_weights,
                         resolve_key_map,
)

__all__ = [
    'BaseConnector', 'BaseDistiller', 'CIFARResNet', 'ConvConnector',
    'DataCheckHook', 'FeatureMSELoss', 'FiniteLossHook', 'FrozenTeacher',
    'IdentityConnector', 'KEY_MAPS', 'NormalizationBridge', 'build_bridge',
    'KeyMismatch', 'MOCO_KEY_MAP', 'TeacherHolder', 'build_data_preprocessor',
    'build_frozen_teacher', 'compare_keys', 'concat_all_gather_no_grad',
    'feature_mse', 'listing', 'load_teacher_weights', 'read_checkpoint',
    'rename_prefixes', 'resolve_key_map', 'resolve_module',
    'SafeCheckpointHook', 'sha256_file',
    'strip_prefix', 'unwrap_model'
]
