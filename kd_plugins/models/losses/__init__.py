from .jsd_loss import (JSDivLoss, jensen_shannon, soft_cross_entropy,
                       symmetric_kl)

__all__ = ['JSDivLoss', 'jensen_shannon', 'symmetric_kl',
           'soft_cross_entropy']
