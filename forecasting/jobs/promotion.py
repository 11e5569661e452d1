"""The promotion gate: a new model replaces the champion only if it is clearly better.

Both scores are backtest MASE on the same panel, folds and horizon (the
champion's spec is re-backtested on this retrain's window), so the comparison
is like for like. Each is the leaderboard's ``mase``: the 10 % trimmed mean
over series of each series' MASE (:data:`forecasting.evaluation.metrics.MASE_AGGREGATE`),
so one series scored on months its history gave no sign of cannot decide a
promotion; the candidate runs log ``mase_median`` and ``mase_mean`` beside it.
``margin`` is the relative improvement required: with ``margin=0.02`` the
candidate must score below 98 % of the champion's MASE. A tie keeps the
champion, so re-running on the same data never promotes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    """What the gate decided and on which numbers (recorded as run tags)."""

    promote: bool
    reason: str
    candidate_model: str
    candidate_mase: float
    champion_model: str | None = None
    champion_mase: float | None = None
    champion_version: str | None = None
    margin: float = 0.0

    @property
    def outcome(self) -> str:
        return "promoted" if self.promote else "kept"

    def tags(self) -> dict[str, str]:
        return {
            "promotion.decision": self.outcome,
            "promotion.reason": self.reason,
            "promotion.margin": f"{self.margin:g}",
            "promotion.candidate_model": self.candidate_model,
            "promotion.candidate_mase": f"{self.candidate_mase:.6g}",
            "promotion.champion_model": self.champion_model or "",
            "promotion.champion_mase": "" if self.champion_mase is None else f"{self.champion_mase:.6g}",
            "promotion.champion_version": self.champion_version or "",
        }


def decide(
    candidate_model: str,
    candidate_mase: float,
    *,
    champion_model: str | None = None,
    champion_mase: float | None = None,
    champion_version: str | None = None,
    margin: float = 0.02,
) -> Decision:
    """Promote when there is no champion, or the candidate beats it by ``margin``."""
    if not math.isfinite(candidate_mase):
        raise ValueError(f"candidate {candidate_model!r} has no finite backtest MASE ({candidate_mase})")
    common = {
        "candidate_model": candidate_model,
        "candidate_mase": candidate_mase,
        "champion_model": champion_model,
        "champion_mase": champion_mase,
        "champion_version": champion_version,
        "margin": margin,
    }
    if champion_version is None:
        return Decision(True, "no serving champion yet", **common)
    if champion_mase is None or not math.isfinite(champion_mase):
        return Decision(True, "the champion could not be backtested on this window", **common)
    threshold = champion_mase * (1.0 - margin)
    if candidate_mase < threshold:
        reason = (
            f"MASE {candidate_mase:.4f} < {threshold:.4f} (champion {champion_mase:.4f} less {margin:.1%})"
        )
        return Decision(True, reason, **common)
    reason = f"MASE {candidate_mase:.4f} >= {threshold:.4f} (champion {champion_mase:.4f} less {margin:.1%})"
    return Decision(False, reason, **common)
