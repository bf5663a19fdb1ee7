from .algorithms import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .connectors import *  # noqa: F401,F403
from .feature_tap import FeatureTap, resolve_module
from .kdep import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .seed import *  # noqa: F401,F403
from .simdis import *  # noqa: F401,F403
from .teacher import FrozenTeacher, build_frozen_teacher, load_teacher_weights

__all__ = ['FeatureTap', 'resolve_module', 'FrozenTeacher',
           'build_frozen_teacher', 'load_teacher_weights']
