from .gather import concat_all_gather_no_grad
from .head import SEEDHead
from .queue import SEEDQueue
from .queue_hook import SEEDQueueHook
from .teacher_ckpt import MOCO_KEY_MAP, build_seed_teacher, \
    load_mapped_weights

__all__ = ['SEEDHead', 'SEEDQueue', 'SEEDQueueHook', 'MOCO_KEY_MAP',
           'build_seed_teacher', 'load_mapped_weights',
           'concat_all_gather_no_grad']
