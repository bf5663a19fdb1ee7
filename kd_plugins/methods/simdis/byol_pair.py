"""Access to the two halves of an mmpretrain ``BYOL`` model.

SimDis' teacher and student are each a BYOL pair, and both are built as
mmpretrain's own :class:`mmpretrain.models.BYOL` (ResNet + ``NonLinearNeck``
projector + ``LatentPredictHead`` predictor, and ``target_net``, a
``CosineEMA`` copy of backbone + projector). Reusing the class keeps the state
dict of a teacher identical to that of a checkpoint written by mmpretrain's
BYOL config (``backbone.*``, ``neck.*``, ``head.predictor.*``,
``target_net.module.{0,1}.*``), so such a checkpoint loads strictly.

The CosineEMA wrapper is used as a container only: SimDis never calls
``BYOL.loss`` (which would update the target with mmpretrain's own schedule);
:class:`~kd_plugins.methods.simdis.EMATargetHook` updates
``target_net.module``.
"""
import torch.nn as nn
from mmpretrain.models import BYOL
from torch import Tensor


def check_byol(model: nn.Module, role: str) -> BYOL:
    if not isinstance(model, BYOL):
        raise TypeError(
            f'the SimDis {role} must be a BYOL pair, i.e. mmpretrain\'s '
            f"BYOL model (`type='BYOL'` with backbone, neck and head); got "
            f'{type(model).__name__}.')
    return model


def online_encoder(byol: BYOL) -> nn.Sequential:
    """Backbone + projector of the online network, named like the target.

    A new container over the same modules: its parameter names ('0.*' for
    the backbone, '1.*' for the projector) are those of
    ``byol.target_net.module``.
    """
    return nn.Sequential(byol.backbone, byol.neck)


def target_encoder(byol: BYOL) -> nn.Module:
    """Backbone + projector of the momentum target (no gradients)."""
    return byol.target_net.module


def project(encoder: nn.Module, x: Tensor) -> Tensor:
    """z = g(f(x)): N x C x H x W -> N x D."""
    return encoder(x)[0]


def predict(byol_or_head: nn.Module, z: Tensor) -> Tensor:
    """q(z) with a LatentPredictHead's predictor (or a bare predictor)."""
    predictor = getattr(byol_or_head, 'predictor', byol_or_head)
    return predictor([z])[0]


def projection_dim(byol: BYOL) -> int:
    """Output size of the projector (its last Linear layer)."""
    linears = [m for m in byol.neck.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f'the BYOL projector {type(byol.neck).__name__} has '
                         'no Linear layer; use a NonLinearNeck.')
    return linears[-1].out_features
