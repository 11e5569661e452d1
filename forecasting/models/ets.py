"""Automatic exponential smoothing (ETS) on statsmodels ``ETSModel``.

The candidate set follows ``forecast::ets``/statsforecast ``AutoETS`` with
``restrict=True``: additive or multiplicative error, no/additive/damped trend
(no multiplicative trend), no/additive/multiplicative season; multiplicative
forms only for strictly positive series, additive error never with a
multiplicative season (numerically unstable), seasonal forms only with at
least two full seasons. The model with the lowest AICc wins. Intervals are
quantiles of seeded simulated future paths, valid for every form.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar, NamedTuple, Self

import numpy as np
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

from forecasting.core.constants import DEFAULT_LEVELS, SEASON_LENGTH
from forecasting.core.params import NON_NEGATIVE_INT, NONE, POSITIVE_INT, Options
from forecasting.core.threads import limit_threads
from forecasting.models.base import LocalForecaster


class EtsForm(NamedTuple):
    """One ETS form, e.g. ``EtsForm("mul", "add", True, "mul")`` is ETS(M,Ad,M)."""

    error: str
    trend: str | None
    damped: bool
    seasonal: str | None

    @property
    def label(self) -> str:
        letters = {None: "N", "add": "A", "mul": "M"}
        trend = letters[self.trend] + ("d" if self.damped else "")
        return f"ETS({letters[self.error]},{trend},{letters[self.seasonal]})"


def candidate_forms(y: np.ndarray, season_length: int = SEASON_LENGTH) -> Iterator[EtsForm]:
    """The restricted ETS forms admissible for ``y``."""
    positive = bool(np.all(y > 0))
    errors = ("add", "mul") if positive else ("add",)
    seasonals: tuple[str | None, ...] = (None,)
    if season_length > 1 and len(y) >= 2 * season_length:
        seasonals = (None, "add", "mul") if positive else (None, "add")
    trends = ((None, False), ("add", False), ("add", True)) if len(y) >= 10 else ((None, False),)
    for error in errors:
        for trend, damped in trends:
            for seasonal in seasonals:
                if error == "add" and seasonal == "mul":
                    continue
                yield EtsForm(error, trend, damped, seasonal)


def information_criterion(result, form: EtsForm, season_length: int = SEASON_LENGTH) -> float:
    """AICc counting the initial states as parameters, as ``forecast::ets`` does.

    statsmodels leaves heuristically initialised states out of its own ``aicc``,
    which would let seasonal forms (12 states) in almost for free.
    """
    smoothing = [name for name in result.model.param_names if not name.startswith("initial_")]
    states = 1 + (form.trend is not None) + ((season_length - 1) if form.seasonal else 0)
    k = len(smoothing) + states + 1  # + sigma
    n = result.nobs
    if n - k - 1 <= 0:
        return np.inf
    return float(-2.0 * result.llf + 2.0 * k + 2.0 * k * (k + 1) / (n - k - 1))


class EtsModel:
    """AICc-selected ETS for one series (numpy in, numpy out); keeps ``y_`` for the fallback."""

    min_obs = 6
    _parameter_constraints: ClassVar[dict] = {
        "season_length": [POSITIVE_INT],
        "initialization": [Options("heuristic", "estimated")],
        "repetitions": [POSITIVE_INT],
        "random_state": [NONE, NON_NEGATIVE_INT],
    }

    def __init__(
        self,
        season_length: int = SEASON_LENGTH,
        initialization: str = "heuristic",
        repetitions: int = 1000,
        random_state: int = 0,
    ) -> None:
        self.season_length = season_length
        self.initialization = initialization
        self.repetitions = repetitions
        self.random_state = random_state

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        # Tiny matrices: multi-threaded BLAS only adds hand-offs (10x+ slower on a busy machine).
        with limit_threads(limits=1):
            return self._fit(y)

    def _fit(self, y: np.ndarray) -> Self:
        self.y_ = np.asarray(y, dtype="float64")
        if np.ptp(self.y_) == 0:
            raise ValueError("constant series: ETS smoothing parameters are not identified")
        best, best_aicc, errors = None, np.inf, []
        for form in candidate_forms(self.y_, self.season_length):
            try:
                result = self._fit_form(form)
            except (ValueError, np.linalg.LinAlgError) as error:
                errors.append(f"{form.label}: {error}")
                continue
            aicc = information_criterion(result, form, self.season_length)
            if np.isfinite(aicc) and aicc < best_aicc:
                best, best_aicc, self.form_ = result, aicc, form
        if best is None:
            raise ValueError(f"no ETS form could be fitted ({'; '.join(errors[:3])})")
        self.result_, self.aicc_ = best, best_aicc
        return self

    def _fit_form(self, form: EtsForm):
        # ETSModel needs initialization "estimated" for short series; heuristic needs two seasons.
        short = len(self.y_) < 2 * self.season_length + 10
        model = ETSModel(
            self.y_,
            error=form.error,
            trend=form.trend,
            damped_trend=form.damped,
            seasonal=form.seasonal,
            seasonal_periods=self.season_length if form.seasonal else None,
            initialization_method="estimated" if short else self.initialization,
        )
        return model.fit(disp=False)

    def predict(
        self, h: int, X: np.ndarray | None = None, levels: Sequence[int] = DEFAULT_LEVELS
    ) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(self.random_state)
        with limit_threads(limits=1):
            paths = self.result_.simulate(h, anchor="end", repetitions=self.repetitions, rng=rng)
            out = {"mean": np.asarray(self.result_.forecast(h), dtype="float64")}
        paths = np.asarray(paths, dtype="float64").reshape(h, -1)
        for level in levels:
            tail = (100 - level) / 2
            out[f"lower_{level}"] = np.percentile(paths, tail, axis=1)
            out[f"upper_{level}"] = np.percentile(paths, 100 - tail, axis=1)
        return out


class Ets(LocalForecaster):
    """Automatic ETS per series, chosen by AICc from a restricted candidate set."""

    name = "ets"
    series_model = EtsModel
