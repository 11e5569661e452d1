"""Exponential-smoothing family members on statsforecast's compiled implementations.

ETS, Theta and complex exponential smoothing (CES) are the members where
statsforecast is both the reference and fast (its ETS search is C++, much
faster than statsmodels' ``ETSModel`` over the same forms; figures in
``docs/experiments/default-auto.md``), so the package
wraps it rather than re-implementing the searches. Each series model sees one
numpy array; a seasonal form is offered only with two full seasons, each
fitted model names its chosen form in ``selected_params()`` (so that a
backtest can refit that form without searching again), and
statsforecast's own failures on a series (a tiny or degenerate one) become
``ValueError`` so the panel wrapper reports a fallback for that series.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
from statsforecast.models import AutoCES, AutoETS, AutoTheta

from forecasting.core.constants import DEFAULT_LEVELS, SEASON_LENGTH
from forecasting.core.params import NONE, POSITIVE_INT, Constraint, Options, Satisfies
from forecasting.models.base import LOCAL_PARAMS, SERIES_PARAMS, LocalForecaster

STATSFORECAST_DATA_ERRORS: tuple[type[Exception], ...] = (
    NotImplementedError,
    ZeroDivisionError,
    IndexError,
    FloatingPointError,
)
"""What statsforecast raises for a series it cannot model (not an unfinished part of this package):
``AutoETS`` raises NotImplementedError("tiny datasets") for a handful of observations, and the
searches divide or index their way out on degenerate series. Each becomes a reported fallback."""


ETS_FORM = re.compile(r"[AM][NAM]d?[NAM]")
"""An ETS form: error, trend ("d" after it when damped), season, e.g. "MAdM"."""


def _is_form_list(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) > 0
        and all(isinstance(form, str) and ETS_FORM.fullmatch(form) and form[1:3] != "Nd" for form in value)
    )


class SmoothingSeriesModel(ABC):
    """A statsforecast model for one series (numpy in, numpy out); keeps ``y_`` for the fallback."""

    min_obs = 4
    warm_up: ClassVar[int] = 0
    """Leading in-sample errors left out (NaN): fits made before the model's states mean anything."""
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {"season_length": [POSITIVE_INT]}

    def __init__(self, season_length: int = SEASON_LENGTH) -> None:
        self.season_length = season_length

    @abstractmethod
    def _estimator(self, season_length: int) -> Any:
        """The unfitted statsforecast model for ``season_length``."""

    @abstractmethod
    def _selected_form(self) -> dict[str, Any]:
        """The parameters naming the fitted form."""

    def selected_params(self) -> dict[str, Any]:
        """Parameters that refit the chosen form without the search; none while the series is too
        short for its season (a later, longer fit must be free to choose a seasonal form)."""
        return self._selected_form() if self.season_length_ == self.season_length else {}

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        self.y_ = np.asarray(y, dtype="float64")
        if np.ptp(self.y_) == 0:
            raise ValueError("constant series: smoothing parameters are not identified")
        # Seasonal states need two full seasons to be initialised.
        self.season_length_ = self.season_length if len(self.y_) >= 2 * self.season_length else 1
        try:
            self.model_ = self._estimator(self.season_length_).fit(self.y_)
        except STATSFORECAST_DATA_ERRORS as error:
            raise ValueError(f"{type(error).__name__}: {error}") from error
        except Exception as error:
            if type(error) is not Exception:  # a bug, not the data: let it surface
                raise
            # statsforecast's searches raise a bare Exception("no model able to be fitted") when every
            # form fails (values near 1e300 overflow each one): the data's failure, so a fallback's
            raise ValueError(f"statsforecast: {error}") from error
        return self

    def predict(
        self, h: int, X: np.ndarray | None = None, levels: Sequence[int] = DEFAULT_LEVELS
    ) -> dict[str, np.ndarray]:
        raw = self.model_.predict(h, level=list(levels))
        out = {"mean": np.asarray(raw["mean"], dtype="float64")}
        for level in levels:
            out[f"lower_{level}"] = np.asarray(raw[f"lo-{level}"], dtype="float64")
            out[f"upper_{level}"] = np.asarray(raw[f"hi-{level}"], dtype="float64")
        return out

    @property
    def residuals_(self) -> np.ndarray:
        """In-sample one-step errors ``y_t - yhat_{t|t-1}`` on the data's scale (statsforecast's fits)."""
        errors = self.y_ - np.asarray(self.model_.predict_in_sample()["fitted"], dtype="float64")
        errors[: self.warm_up] = np.nan
        return errors


class EtsSeriesModel(SmoothingSeriesModel):
    """AICc-selected ETS (``forecast::ets``'s restricted forms, as statsforecast ``AutoETS``).

    ``model`` is the form in ETS letters, "Z" letting the AICc choose (e.g.
    "ZZZ", or "ZZN" for no season); ``damped`` None tries damped and undamped
    trends. ``forms`` (e.g. ``("MAdM", "MNM")``, error, trend with "d" when
    damped, season) limits the choice to those forms, ``model`` and
    ``damped`` aside: a later fit can search only the forms that ranked best on
    an earlier history (``shortlist``). A series shorter than two seasons gets
    no season whatever the season letter (as the search would choose). The
    search fits one form at a time, in statsforecast's order, and keeps the
    lowest AICc (its first on a tie), as ``AutoETS`` does; ``form_ranking_``
    lists the forms that fitted, best first. ``form_`` names the fitted form,
    e.g. "ETS(M,Ad,M)".
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **SmoothingSeriesModel._parameter_constraints,
        "model": [Options(*(e + t + s for e in "ZAM" for t in "ZANM" for s in "ZANM"))],
        "damped": [NONE, Options(True, False)],
        "forms": [NONE, Satisfies(_is_form_list, 'a non-empty list of ETS forms such as "MAdM" or "ANN"')],
    }

    def __init__(
        self,
        season_length: int = SEASON_LENGTH,
        model: str = "ZZZ",
        damped: bool | None = None,
        forms: Sequence[str] | None = None,
    ) -> None:
        super().__init__(season_length)
        self.model = model
        self.damped = damped
        self.forms = forms

    def _estimator(self, season_length: int) -> FormSearch:
        return FormSearch(season_length, self._candidate_forms(season_length))

    def _candidate_forms(self, season_length: int) -> list[str]:
        """The forms to try, in statsforecast's search order (its restrictions are its own)."""
        if self.forms is not None:
            forms = list(dict.fromkeys(self.forms))
        else:
            errors, trends, seasons = (
                options if letter == "Z" else letter
                for letter, options in zip(self.model, ("AM", "NA", "NAM"), strict=True)
            )
            dampings = (True, False) if self.damped is None else (self.damped,)
            forms = [
                error + trend + ("d" if damped else "") + season
                for error in errors
                for trend in trends
                for season in seasons
                for damped in dampings
                if not (trend == "N" and damped)
            ]
        # Seasonal states need two full seasons (``fit`` sets the season length to 1 without them).
        return forms if season_length > 1 else list(dict.fromkeys(form[:-1] + "N" for form in forms))

    @property
    def form_(self) -> str:
        return str(self.model_.model_["method"])

    @property
    def form_ranking_(self) -> list[str]:
        return self.model_.ranking_

    def _selected_form(self) -> dict[str, Any]:
        """``model`` letters and ``damped`` (components e.g. "MAMD": damped)."""
        components = str(self.model_.model_["components"])
        return {"model": components[:3], "damped": components[3] == "D"}

    def shortlist(self, n_forms: int) -> dict[str, Any]:
        """Parameters that make a later fit choose among this fit's ``n_forms`` best forms; none
        while the series is too short for its season (as :meth:`selected_params`)."""
        if self.season_length_ != self.season_length:
            return {}
        return {"forms": tuple(self.form_ranking_[:n_forms])}


class FormSearch:
    """``AutoETS`` over a list of forms, one fit each, the lowest AICc kept: ``AutoETS`` with "Z"
    letters fits the same forms the same way but reports only the winner, and a shortlist for a
    later fit needs the runners-up (``ranking_``)."""

    def __init__(self, season_length: int, forms: Sequence[str]) -> None:
        self.season_length = season_length
        self.forms = forms

    def fit(self, y: np.ndarray) -> AutoETS:
        fits = []
        for form in self.forms:
            letters, damped = form.replace("d", ""), "d" in form
            try:
                fitted = AutoETS(season_length=self.season_length, model=letters, damped=damped).fit(y)
            except (ValueError, NotImplementedError):  # a form statsforecast rules out for this series
                continue
            if not np.isnan(fitted.model_["aicc"]):
                fits.append((float(fitted.model_["aicc"]), form, fitted))
        if not fits:
            raise ValueError(f"no ETS form of {list(self.forms)} can be fitted to this series")
        fits.sort(key=lambda fit: fit[0])  # stable: the first form on a tie, as AutoETS
        best = fits[0][2]
        best.ranking_ = [form for _, form, _ in fits]
        return best


class ThetaSeriesModel(SmoothingSeriesModel):
    """Theta with an optimised theta (statsforecast ``AutoTheta``).

    It chooses among the standard, optimised, dynamic standard and dynamic
    optimised Theta models (``model`` "STM", "OTM", "DSTM", "DOTM"; None: by
    in-sample MSE), after a 90% seasonality test on the lag-12 autocorrelation
    and, when seasonal, multiplicative classical decomposition (additive for
    series that are not strictly positive).
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **SmoothingSeriesModel._parameter_constraints,
        "model": [NONE, Options("STM", "OTM", "DSTM", "DOTM")],
    }

    warm_up = 3
    """Theta's trend is a regression on the observations so far: its first fits rest on one or two
    points. On 145 M1 and BTS series a third of the first in-sample errors were over 20 times the
    series' typical error (on a BTS series -6.8e9 against values near 30,000); from the fourth on
    as rarely as ETS's; they would dominate any error covariance (MinT) or spread taken from them."""

    def __init__(self, season_length: int = SEASON_LENGTH, model: str | None = None) -> None:
        super().__init__(season_length)
        self.model = model

    def _estimator(self, season_length: int) -> AutoTheta:
        positive = bool(np.all(self.y_ > 0))
        return AutoTheta(
            season_length=season_length,
            decomposition_type="multiplicative" if positive else "additive",
            model=self.model,
        )

    def _selected_form(self) -> dict[str, Any]:
        return {"model": self.variant_}

    @property
    def deseasonalized_(self) -> bool:
        return bool(self.model_.model_.get("decompose", False))

    @property
    def variant_(self) -> str:
        return str(self.model_.model_["modeltype"])


class CesSeriesModel(SmoothingSeriesModel):
    """Complex exponential smoothing (Svetunkov & Kourentzes), statsforecast ``AutoCES``.

    CES models level and trend in one complex-valued state, so it need not
    decide between a trend and none; the season type (``model`` "N" none, "S"
    simple, "P" partial, "F" full; "Z" by AICc) is chosen by AICc. A series
    shorter than two seasons gets none.
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **SmoothingSeriesModel._parameter_constraints,
        "model": [Options("Z", "N", "S", "P", "F")],
    }

    def __init__(self, season_length: int = SEASON_LENGTH, model: str = "Z") -> None:
        super().__init__(season_length)
        self.model = model

    def _estimator(self, season_length: int) -> AutoCES:
        model = self.model if season_length > 1 or self.model == "Z" else "N"
        return AutoCES(season_length=season_length, model=model)

    def _selected_form(self) -> dict[str, Any]:
        return {"model": str(self.model_.model_["seasontype"])}


class Ets(LocalForecaster):
    """Automatic ETS per series, chosen by AICc from the restricted forms; ``series_params`` fixes
    chosen forms per series."""

    name = "ets"
    series_model = EtsSeriesModel
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **EtsSeriesModel._parameter_constraints,
        **SERIES_PARAMS,
        **LOCAL_PARAMS,
    }

    def __init__(
        self,
        *,
        season_length: int = SEASON_LENGTH,
        model: str = "ZZZ",
        damped: bool | None = None,
        forms: Sequence[str] | None = None,
        series_params: Mapping[str, Mapping[str, Any]] | None = None,
        min_obs: int | None = None,
        n_jobs: int = 1,
    ) -> None:
        self.season_length = season_length
        self.model = model
        self.damped = damped
        self.forms = forms
        self.series_params = series_params
        self.min_obs = min_obs
        self.n_jobs = n_jobs


class Theta(LocalForecaster):
    """Theta per series with an optimised theta, seasonally adjusted when seasonality is significant;
    ``series_params`` fixes chosen variants per series."""

    name = "theta"
    series_model = ThetaSeriesModel
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **ThetaSeriesModel._parameter_constraints,
        **SERIES_PARAMS,
        **LOCAL_PARAMS,
    }

    def __init__(
        self,
        *,
        season_length: int = SEASON_LENGTH,
        model: str | None = None,
        series_params: Mapping[str, Mapping[str, Any]] | None = None,
        min_obs: int | None = None,
        n_jobs: int = 1,
    ) -> None:
        self.season_length = season_length
        self.model = model
        self.series_params = series_params
        self.min_obs = min_obs
        self.n_jobs = n_jobs


class Ces(LocalForecaster):
    """Complex exponential smoothing per series; ``series_params`` fixes chosen season types per series."""

    name = "ces"
    series_model = CesSeriesModel
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **CesSeriesModel._parameter_constraints,
        **SERIES_PARAMS,
        **LOCAL_PARAMS,
    }

    def __init__(
        self,
        *,
        season_length: int = SEASON_LENGTH,
        model: str = "Z",
        series_params: Mapping[str, Mapping[str, Any]] | None = None,
        min_obs: int | None = None,
        n_jobs: int = 1,
    ) -> None:
        self.season_length = season_length
        self.model = model
        self.series_params = series_params
        self.min_obs = min_obs
        self.n_jobs = n_jobs
