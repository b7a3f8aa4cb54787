r"""Losses for vote fractions with missing labels.

Notation for one galaxy: :math:`z` the six raw logits, :math:`p = \mathrm{softmax}(z)`
the predicted shares of the six raw answers, :math:`t` the target shares, and
:math:`K` the set of raw answers whose target is known (the mask).

**Raw answers (coarsened soft-target cross-entropy).** With
:math:`R = \{1..6\} \setminus K` the unknown answers and
:math:`r = \max(0, 1 - \sum_{k \in K} t_k)` their combined share,

.. math:: L_\mathrm{raw} = -\sum_{k \in K} t_k \log p_k \;-\; r \log \sum_{j \in R} p_j .

This is the cross-entropy of the votes over the partition
:math:`K \cup \{R\}`: all unknown answers are lumped into one "other" bucket.
With all six known (:math:`R = \emptyset`, :math:`r = 0`) it is the ordinary
soft-target cross-entropy; with a one-hot class target it is the ordinary
classification cross-entropy; with only P_CW and P_ACW known (the spin table)
it scores CW, ACW and "anything else" = 1 - P_CW - P_ACW. Computed with
log-sum-exp for stability.

**Spin share.** Where :math:`t_{CW} + t_{ACW} > 0`, the share of spin votes
that said clockwise, :math:`q = t_{CW} / (t_{CW} + t_{ACW})`, is compared with
the model's renormalised share :math:`s = p_{CW} / (p_{CW} + p_{ACW}) =
\sigma(z_{CW} - z_{ACW})` by binary cross-entropy, weighted by
:math:`t_{CW} + t_{ACW}` (a galaxy with few spin votes says little about
spin direction):

.. math:: L_\mathrm{spin} = -(t_{CW} + t_{ACW}) \,[q \log s + (1 - q) \log (1 - s)] .

It isolates the one thing flips change (which way the arms wind) from the
much larger spiral-vs-elliptical signal.

**Debiased head.** Binary cross-entropy between the sigmoid outputs and the
known debiased fractions, averaged over known entries only.

**Weights.** Each galaxy has weight :math:`w = w_\mathrm{votes} \cdot w_\mathrm{class}`:
:math:`w_\mathrm{votes} = \mathrm{clip}(N_\mathrm{vote} / 30, 0.25, 2)` where
NVOTE is known (a fraction from more votes is a less noisy estimate), else 1;
:math:`w_\mathrm{class}` is an optional per-top-answer weight for rare answers.
The total is

.. math:: L = \frac{\sum_i w_i (L_{\mathrm{raw},i} + \lambda_\mathrm{spin} L_{\mathrm{spin},i})}{\sum_i w_i}
          + \lambda_\mathrm{deb} \,\mathrm{mean}_{\mathrm{known}}(L_\mathrm{deb}).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from core.schema import ACW_RAW_INDEX, CW_RAW_INDEX, DEBIASED_INDEX, N_RAW

NVOTE_REFERENCE = 30.0


def vote_weights(nvote: np.ndarray) -> np.ndarray:
    """Per-galaxy weight from NVOTE: clip(NVOTE / 30, 0.25, 2); 1 where NVOTE is unknown (NaN)."""
    nvote = np.asarray(nvote, dtype=float)
    return np.where(np.isnan(nvote), 1.0, np.clip(nvote / NVOTE_REFERENCE, 0.25, 2.0))


def class_weights(targets: np.ndarray, strength: float) -> np.ndarray:
    """Per-galaxy weight (n_c / n_max) ** -strength for the human top answer c of rows with all six known.

    ``strength`` 0 = no reweighting, 1 = full inverse frequency. Rows without
    a full raw label get weight 1. Weights are rescaled to mean 1 over full rows.
    """
    targets = np.asarray(targets, dtype=float)
    raw = targets[:, :N_RAW]
    full = ~np.isnan(raw).any(axis=1)
    w = np.ones(len(targets))
    if strength <= 0 or not full.any():
        return w
    top = np.argmax(np.nan_to_num(raw[full], nan=-1.0), axis=1)
    counts = np.bincount(top, minlength=N_RAW).astype(float)
    per_class = np.where(counts > 0, (np.maximum(counts, 1) / counts.max()) ** -strength, 1.0)
    wf = per_class[top]
    w[full] = wf / wf.mean()
    return w


def vote_loss(raw_logits: torch.Tensor, debiased_logits: torch.Tensor, target: torch.Tensor,
              mask: torch.Tensor, weight: torch.Tensor | None = None, spin_weight: float = 1.0,
              debiased_weight: float = 0.5) -> torch.Tensor:
    """Scalar loss (see module docstring). target/mask (N, 9) in VOTE_COLUMNS order; NaNs in target are ignored."""
    t = torch.nan_to_num(target[:, :N_RAW], nan=0.0)
    known = mask[:, :N_RAW].bool()
    n = raw_logits.shape[0]
    w = torch.ones(n) if weight is None else weight
    log_p = torch.log_softmax(raw_logits, dim=1)
    known_term = -(t * log_p * known).sum(dim=1)
    rest = (1.0 - (t * known).sum(dim=1)).clamp(min=0.0)
    has_rest = (~known).any(dim=1)
    lse_all = torch.logsumexp(raw_logits, dim=1)
    masked = raw_logits.masked_fill(known, float("-inf"))
    lse_rest = torch.logsumexp(torch.where(has_rest[:, None], masked, torch.zeros_like(raw_logits)), dim=1)
    rest_term = torch.where(has_rest, -rest * (lse_rest - lse_all), torch.zeros_like(rest))
    raw_loss = known_term + rest_term

    spin_known = known[:, CW_RAW_INDEX] & known[:, ACW_RAW_INDEX]
    spin_total = (t[:, CW_RAW_INDEX] + t[:, ACW_RAW_INDEX]) * spin_known
    use_spin = spin_total > 0
    q = torch.where(use_spin, t[:, CW_RAW_INDEX] / spin_total.clamp(min=1e-6), torch.zeros_like(spin_total))
    spin_logit = raw_logits[:, CW_RAW_INDEX] - raw_logits[:, ACW_RAW_INDEX]
    spin_loss = F.binary_cross_entropy_with_logits(spin_logit, q, reduction="none") * spin_total

    per_row = raw_loss + spin_weight * spin_loss
    total = (w * per_row).sum() / w.sum().clamp(min=1e-6)

    deb_known = mask[:, list(DEBIASED_INDEX)].bool()
    if deb_known.any():
        deb_t = torch.nan_to_num(target[:, list(DEBIASED_INDEX)], nan=0.0)
        deb = F.binary_cross_entropy_with_logits(debiased_logits, deb_t, reduction="none")
        total = total + debiased_weight * deb[deb_known].mean()
    return total
