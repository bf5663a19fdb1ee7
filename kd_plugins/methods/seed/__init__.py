"""SEED: similarity-distribution distillation over a FIFO queue of teacher
embeddings (Fang et al.)."""
from .head import SEEDHead
from .queue import SEEDQueue
from .queue_hook import SEEDQueueHook
from .seed import SEED
from .seed_loss import SEEDLoss, seed_loss

__all__ = ['SEED', 'SEEDHead', 'SEEDLoss', 'SEEDQueue', 'SEEDQueueHook',
           'seed_loss']
