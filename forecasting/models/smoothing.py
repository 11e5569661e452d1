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
from statsforecast.ets import _PHI_LOWER as ETS_PHI_LOWER
from statsforecast.ets import _PHI_UPPER as ETS_PHI_UPPER
from statsforecast.ets import ets_f, initparam
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


ETS_FORM = re.compile(r"[AM](?:N|[AM]d?)[NAM]")
"""An ETS form: error, trend ("d" after it when damped), season, e.g. "MAdM"."""


def _is_form_list(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) > 0
        and all(isinstance(form, str) and ETS_FORM.fullmatch(form) for form in value)
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
    an earlier history (``shortlist``), each fitted exactly as the full search
    fits it (:class:`FormSearch`). A series shorter than two seasons gets no
    season whatever the season letter (as the search would choose). The search
    gives ``AutoETS``'s fit and ``form_ranking_`` lists the forms that fitted,
    best first. ``form_`` names the fitted form, e.g. "ETS(M,Ad,M)".
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
        if self.forms is None:
            order = search_order(self.model, self.damped, season_length)
            return FormSearch(season_length, order, order)
        chosen = without_season(list(self.forms), season_length)
        order = search_order("ZZZ", None, season_length)
        return FormSearch(season_length, order + [form for form in chosen if form not in order], chosen)

    @property
    def form_(self) -> str:
        return str(self.model_.model_["method"])

    @property
    def form_ranking_(self) -> list[str]:
        return self.model_.ranking_

    def _selected_form(self) -> dict[str, Any]:
        """The fitted form as a one-form shortlist, so a refit on the same history is this fit
        exactly (the search's bounds narrowed by the forms before it), not the form on fresh bounds."""
        return {"forms": (self.form_ranking_[0],)}

    def shortlist(self, n_forms: int) -> dict[str, Any]:
        """Parameters that make a later fit choose among this fit's ``n_forms`` best forms; none
        while the series is too short for its season (as :meth:`selected_params`)."""
        if self.season_length_ != self.season_length:
            return {}
        return {"forms": tuple(self.form_ranking_[:n_forms])}


def search_order(model: str, damped: bool | None, season_length: int) -> list[str]:
    """The forms ``model``'s letters ("Z": any) and ``damped`` (None: both) allow, in ``AutoETS``'s
    search order (its restrictions it applies itself)."""
    errors, trends, seasons = (
        options if letter == "Z" else letter
        for letter, options in zip(model, ("AM", "NA", "NAM"), strict=True)
    )
    dampings = (True, False) if damped is None else (damped,)
    forms = [
        error + trend + ("d" if damp else "") + season
        for error in errors
        for trend in trends
        for season in seasons
        for damp in dampings
        if not (trend == "N" and damp)
    ]
    return without_season(forms, season_length)


def without_season(forms: list[str], season_length: int) -> list[str]:
    """``forms`` as fitted at ``season_length``: seasonal states need two full seasons, and a series
    without them (``fit`` sets the length to 1) gets each form without its season, once."""
    return list(dict.fromkeys(forms if season_length > 1 else (form[:-1] + "N" for form in forms)))


class BoundedAutoETS(AutoETS):
    """``AutoETS`` on parameter bounds the caller owns: each fit's start values narrow them in
    place (statsforecast's ``initparam``), as they do from one form to the next in ``AutoETS``'s
    own search, so a form fitted after others gets the bounds that search would give it."""

    def __init__(
        self, season_length: int, model: str, damped: bool, lower: np.ndarray, upper: np.ndarray
    ) -> None:
        super().__init__(season_length=season_length, model=model, damped=damped)
        self.lower = lower
        self.upper = upper

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        self.model_ = ets_f(
            y, m=self.season_length, model=self.model, damped=self.damped, lower=self.lower, upper=self.upper
        )
        self.model_["actual_residuals"] = y - self.model_["fitted"]
        return self


class FormSearch:
    """``AutoETS``'s search one form at a time, keeping the ranking it does not report.

    The forms are stepped through in ``AutoETS``'s order on shared bounds;
    those outside ``chosen`` are not fitted, but their start values narrow the
    bounds as the full search's fit would (``initparam``), so a form gets the
    same fit whether the search covers every form or a shortlist. The lowest
    AICc wins (the first on a tie); ``ranking_`` lists the fitted forms, best first.
    """

    def __init__(self, season_length: int, forms: Sequence[str], chosen: Sequence[str]) -> None:
        self.season_length = season_length
        self.forms = forms
        self.chosen = chosen

    def fit(self, y: np.ndarray) -> AutoETS:
        lower = np.array([0.0001, 0.0001, 0.0001, ETS_PHI_LOWER])  # ets_f's default bounds
        upper = np.array([0.9999, 0.9999, 0.9999, ETS_PHI_UPPER])
        positive = bool(np.min(y) > 0)
        fits = []
        for form in self.forms:
            letters, damped = form.replace("d", ""), "d" in form
            if form not in self.chosen:
                if _searched_by_autoets(letters, positive):
                    self._step_over(letters, damped, lower, upper)
                continue
            try:
                fitted = BoundedAutoETS(self.season_length, letters, damped, lower, upper).fit(y)
            except (ValueError, NotImplementedError):  # a form statsforecast rules out for this series
                continue
            if not np.isnan(fitted.model_["aicc"]):
                fits.append((float(fitted.model_["aicc"]), form, fitted))
        if not fits:
            raise ValueError(f"no ETS form of {list(self.chosen)} can be fitted to this series")
        fits.sort(key=lambda fit: fit[0])  # stable: the first form on a tie, as AutoETS
        best = fits[0][2]
        best.ranking_ = [form for _, form, _ in fits]
        return best

    def _step_over(self, letters: str, damped: bool, lower: np.ndarray, upper: np.ndarray) -> None:
        """Narrow the bounds as fitting this form would (``etsmodel`` drops the season length of
        a form without a season), without fitting it."""
        period = self.season_length if letters[2] != "N" else 1
        initparam(
            np.nan, np.nan, np.nan, np.nan, letters[1], letters[2], damped, lower, upper, period, "both"
        )


def _searched_by_autoets(letters: str, positive: bool) -> bool:
    """Whether ``AutoETS``'s search fits this form (``ets_f``'s restricted forms and its rule that
    multiplicative errors and seasons need positive data), so that stepping over it narrows the bounds."""
    error, trend, season = letters
    restricted = (error == "A" and "M" in (trend, season)) or (
        error == "M" and trend == "M" and season == "A"
    )
    return not restricted and (positive or "M" not in (error, season))


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
    fit_cost = 0.65
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
    fit_cost = 0.3
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
    fit_cost = 0.75
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
