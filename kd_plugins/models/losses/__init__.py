from .feature_mse_loss import FeatureMSELoss, feature_mse
from .jsd_loss import (JSDivLoss, jensen_shannon, soft_cross_entropy,
                       symmetric_kl)
from .seed_loss import SEEDLoss, seed_loss

__all__ = ['JSDivLoss', 'jensen_shannon', 'symmetric_kl',
           'soft_cross_entropy', 'FeatureMSELoss', 'feature_mse', 'SEEDLoss',
           'seed_loss']
