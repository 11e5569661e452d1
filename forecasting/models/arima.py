"""Fast automatic seasonal ARIMA on statsmodels (Hyndman-Khandakar in spirit).

Orders of differencing come from unit-root tests (KPSS for d, as ``forecast::ndiffs``;
STL seasonal strength > 0.64 for D, as ``forecast::nsdiffs``). The series is
differenced once, up front, and every candidate (p, q)(P, Q) with or without a
constant is estimated on that same differenced series by conditional sum of
squares (a few MINPACK Levenberg-Marquardt iterations over ``scipy.signal.lfilter``
residuals); its exact Gaussian likelihood is then evaluated once with a Kalman
filter (statsmodels ``SARIMAX.loglike``) for an AICc that is comparable across
candidates. Only the chosen model is fitted by full maximum likelihood
(statsmodels ``ARIMA``, regression with ARIMA errors when ``X`` is given),
started from the CSS estimates. ``search="mle"`` instead fits every candidate by
full MLE, which is what the fast search is measured against.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import ClassVar, Self

import numpy as np
from scipy.optimize import leastsq
from scipy.signal import lfilter
from statsmodels.tsa.arima_process import arma2ma
from statsmodels.tsa.statespace.sarimax import SARIMAX

from forecasting.core.constants import DEFAULT_LEVELS, SEASON_LENGTH
from forecasting.core.intervals import normal_intervals
from forecasting.core.params import BOOLEAN, NON_NEGATIVE_INT, POSITIVE_INT, Options
from forecasting.core.seasonality import ndiffs, nsdiffs
from forecasting.core.threads import limit_threads
from forecasting.models.base import LOCAL_PARAMS, LocalForecaster
from forecasting.models.transforms import TRANSFORMS, BoxCox, choose_transform

Order = tuple[int, int, int, int, bool]  # p, q, P, Q, constant
SEARCHES = ("fast", "mle")


# --- differencing (the orders: forecasting.core.seasonality) ----------------------------
def difference(y: np.ndarray, d: int, D: int, m: int) -> np.ndarray:
    """``(1 - B)^d (1 - B^m)^D y`` (rows for 2-D input)."""
    out = np.asarray(y, dtype="float64")
    for _ in range(D):
        out = out[m:] - out[:-m]
    for _ in range(d):
        out = np.diff(out, axis=0)
    return out


# --- conditional sum of squares on the differenced series --------------------------------
def _polys(params: np.ndarray, order: Order, m: int) -> tuple[np.ndarray, np.ndarray]:
    """AR polynomial ``phi(B) Phi(B^m)`` and MA polynomial ``theta(B) Theta(B^m)`` (ascending powers)."""
    p, q, P, Q, _ = order
    ar, ma = params[:p], params[p : p + q]
    sar, sma = params[p + q : p + q + P], params[p + q + P :]
    seasonal_ar = np.zeros(P * m + 1)
    seasonal_ar[0] = 1.0
    seasonal_ar[m::m] = -sar
    seasonal_ma = np.zeros(Q * m + 1)
    seasonal_ma[0] = 1.0
    seasonal_ma[m::m] = sma
    short_ar = np.ones(p + 1)
    short_ar[1:] = -ar
    short_ma = np.ones(q + 1)
    short_ma[1:] = ma
    return np.convolve(short_ar, seasonal_ar), np.convolve(short_ma, seasonal_ma)


def _is_stable(poly: np.ndarray) -> bool:
    """All roots of ``poly`` (ascending powers) outside the unit circle, with HK's 1.01 margin."""
    coefficients = np.trim_zeros(poly, "b")
    if len(coefficients) <= 1:
        return True
    roots = np.roots(coefficients[::-1])
    return bool(np.all(np.abs(roots) > 1.01))


class _Candidate:
    """One ARMA candidate on the differenced series: its estimates and its AICc."""

    def __init__(self, order: Order, params: np.ndarray, aicc: float) -> None:
        self.order, self.params, self.aicc = order, params, aicc


def _regressors(n: int, Xd: np.ndarray | None, constant: bool) -> np.ndarray | None:
    columns = ([np.ones((n, 1))] if constant else []) + ([Xd] if Xd is not None else [])
    return np.hstack(columns) if columns else None


def _css_fit(w: np.ndarray, R: np.ndarray | None, order: Order, m: int) -> np.ndarray | None:
    """CSS estimates ``[regression coefs, ar, ma, sar, sma]``, or None if unstable.

    The series is standardised and the ARMA coefficients start at 0.1: MINPACK's
    first trust region is proportional to the norm of the start, so a start at
    (or near) zero would stop at once.
    """
    p, q, P, Q, _ = order
    n_cond = p + P * m
    k_reg = 0 if R is None else R.shape[1]
    scale = float(np.std(w)) or 1.0
    z = w / scale
    beta0 = np.linalg.lstsq(R, z, rcond=None)[0] if k_reg else np.zeros(0)
    x0 = np.r_[beta0, np.full(p + q + P + Q, 0.1)]
    if len(x0) == 0:
        return x0

    def residuals(x: np.ndarray) -> np.ndarray:
        u = z - R @ x[:k_reg] if k_reg else z
        phi, theta = _polys(x[k_reg:], order, m)
        return lfilter(phi, theta, u)[n_cond:]

    # MINPACK lmdif (finite differences in Fortran): far less overhead than least_squares.
    # Reaching maxfev is fine: the estimate only ranks candidates and starts the final MLE.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        x = leastsq(residuals, x0, xtol=1e-4, ftol=1e-6, maxfev=50 * (len(x0) + 1))[0]
    phi, theta = _polys(x[k_reg:], order, m)
    if not (np.all(np.isfinite(x)) and _is_stable(phi) and _is_stable(theta)):
        return None
    return np.r_[x[:k_reg] * scale, x[k_reg:]]


def _aicc(loglike: float, n: int, k: int) -> float:
    if n - k - 1 <= 0 or not np.isfinite(loglike):
        return np.inf
    return -2.0 * loglike + 2.0 * k + 2.0 * k * (k + 1) / (n - k - 1)


def _state_space(w: np.ndarray, R: np.ndarray | None, order: Order, m: int) -> SARIMAX:
    p, q, P, Q, _ = order
    return SARIMAX(
        w, exog=R, order=(p, 0, q), seasonal_order=(P, 0, Q, m if P + Q else 0), concentrate_scale=True
    )


def evaluate(w: np.ndarray, Xd: np.ndarray | None, order: Order, m: int, search: str = "fast") -> _Candidate:
    """Estimate one candidate on the differenced series ``w`` and score it by AICc."""
    p, q, P, Q, constant = order
    R = _regressors(len(w), Xd, constant)
    k = (0 if R is None else R.shape[1]) + p + q + P + Q + 1
    if len(w) - (p + P * m) < k + 3:
        return _Candidate(order, np.zeros(0), np.inf)
    params = _css_fit(w, R, order, m)
    if params is None:
        return _Candidate(order, np.zeros(0), np.inf)
    model = _state_space(w, R, order, m)
    if search == "mle" and len(params):
        result = model.fit(start_params=params, disp=0)
        params, loglike = result.params, float(result.llf)
    else:
        loglike = float(model.loglike(params))
    return _Candidate(order, np.asarray(params), _aicc(loglike, len(w), k))


def _neighbours(order: Order, allow_constant: bool, seasonal: bool, limits: tuple[int, ...]) -> list[Order]:
    p, q, P, Q, c = order
    max_p, max_q, max_P, max_Q, max_order = limits
    moves = [(1, 0, 0, 0), (-1, 0, 0, 0), (0, 1, 0, 0), (0, -1, 0, 0), (1, 1, 0, 0), (-1, -1, 0, 0)]
    if seasonal:
        moves += [(0, 0, 1, 0), (0, 0, -1, 0), (0, 0, 0, 1), (0, 0, 0, -1), (0, 0, 1, 1), (0, 0, -1, -1)]
    out = [(p + a, q + b, P + e, Q + f, c) for a, b, e, f in moves]
    if allow_constant:
        out.append((p, q, P, Q, not c))
    return [
        o
        for o in out
        if 0 <= o[0] <= max_p
        and 0 <= o[1] <= max_q
        and 0 <= o[2] <= max_P
        and 0 <= o[3] <= max_Q
        and sum(o[:4]) <= max_order
    ]


def stepwise_search(
    w: np.ndarray,
    Xd: np.ndarray | None,
    *,
    m: int,
    allow_constant: bool,
    seasonal: bool,
    limits: tuple[int, ...] = (5, 5, 2, 2, 5),
    search: str = "fast",
    max_models: int = 94,
) -> tuple[_Candidate, int]:
    """Hyndman-Khandakar stepwise search; returns the best candidate and how many were fitted."""
    starts: list[Order] = [(2, 2, 1, 1, allow_constant), (0, 0, 0, 0, allow_constant)]
    starts += [(1, 0, 1, 0, allow_constant), (0, 1, 0, 1, allow_constant)]
    if allow_constant:
        starts.append((0, 0, 0, 0, False))
    if not seasonal:
        starts = list(dict.fromkeys((p, q, 0, 0, c) for p, q, _, _, c in starts))
    seen: dict[Order, _Candidate] = {}

    def score(order: Order) -> _Candidate:
        if order not in seen:
            seen[order] = evaluate(w, Xd, order, m, search)
        return seen[order]

    best = min((score(o) for o in starts), key=lambda c: c.aicc)
    improved = True
    while improved and len(seen) < max_models:
        improved = False
        for order in _neighbours(best.order, allow_constant, seasonal, limits):
            candidate = score(order)
            if candidate.aicc < best.aicc - 1e-8:
                best, improved = candidate, True
                break
    return best, len(seen)


# --- the per-series model ------------------------------------------------------------------
class ArimaModel:
    """Auto-ARIMA for one series (numpy in, numpy out); keeps ``y_`` for the fallback."""

    min_obs = 8
    _parameter_constraints: ClassVar[dict] = {
        "season_length": [POSITIVE_INT],
        "transform": [Options(*TRANSFORMS)],
        "search": [Options(*SEARCHES)],
        "max_order": [NON_NEGATIVE_INT],
        "maxiter": [POSITIVE_INT],
    }

    def __init__(
        self,
        season_length: int = SEASON_LENGTH,
        transform: str | None = None,
        search: str = "fast",
        max_order: int = 5,
        maxiter: int = 50,
    ) -> None:
        self.season_length = season_length
        self.transform = transform
        self.search = search
        self.max_order = max_order
        self.maxiter = maxiter

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Self:
        # The matrices are tiny (state dimension < 40): multi-threaded BLAS only adds
        # thread hand-offs, which cost 3-4x on a loaded machine. Parallelise across series.
        with limit_threads(limits=1):
            return self._fit(y, X)

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> Self:
        self.y_ = np.asarray(y, dtype="float64")
        if np.ptp(self.y_) == 0:
            raise ValueError("constant series: ARIMA is not identified")
        m = self.season_length
        self.transform_: BoxCox | None = choose_transform(self.y_, self.transform, m)
        z = self.transform_.forward(self.y_) if self.transform_ else self.y_
        self.D_ = nsdiffs(z, m)
        self.d_ = ndiffs(difference(z, 0, self.D_, m))
        w = difference(z, self.d_, self.D_, m)
        Xd = None if X is None else difference(X, self.d_, self.D_, m)
        allow_constant = self.d_ + self.D_ <= 1
        seasonal = m > 1 and len(w) >= 2 * m + 8
        limits = (5, 5, 2, 2, self.max_order)
        best, self.n_candidates_ = stepwise_search(
            w, Xd, m=m, allow_constant=allow_constant, seasonal=seasonal, limits=limits, search=self.search
        )
        if not np.isfinite(best.aicc):
            raise ValueError(f"no ARIMA candidate could be estimated on {len(w)} differenced observations")
        self.order_ = best.order
        self.search_aicc_ = best.aicc
        result = self._fit_final(w, Xd, best)
        # Only what forecasting needs is kept (a SARIMAX results object pickles to ~4 MB,
        # which dominated moving fitted models between processes): predict re-runs the
        # Kalman filter over the short differenced series.
        self.params_ = np.asarray(result.params, dtype="float64")
        self.param_names_ = list(result.model.param_names)
        self.aicc_ = float(result.aicc)
        self.w_ = w
        self.R_ = _regressors(len(w), Xd, best.order[4])
        lags = self.d_ + self.D_ * m
        self.z_tail_ = z[len(z) - lags :]
        self.X_tail_ = None if X is None else np.asarray(X, dtype="float64")[len(z) - lags :]
        return self

    def _fit_final(self, w: np.ndarray, Xd: np.ndarray | None, best: _Candidate):
        """Full MLE of the chosen model on the differenced series, started from the search estimates.

        The likelihood of an integrated model with diffuse initial states equals that of
        its differenced series, so the optimisation runs on the small stationary state
        space (and stays stable when a seasonal MA root approaches the unit circle).
        """
        model = _state_space(w, _regressors(len(w), Xd, best.order[4]), best.order, self.season_length)
        params = np.asarray(best.params, dtype="float64")
        if not len(params) or self.search != "fast":
            return model.filter(params)
        if Xd is None:
            return model.fit(start_params=params, disp=0, maxiter=self.maxiter)
        # Each regressor adds a finite-difference gradient dimension to every Kalman-filter
        # evaluation; their CSS estimates (joint with the ARMA part) are kept and the ARMA
        # part and constant are refined by MLE.
        first = int(best.order[4])
        names = model.param_names[first : first + Xd.shape[1]]
        with model.fix_params(dict(zip(names, params[first : first + Xd.shape[1]], strict=True))):
            free = np.r_[params[:first], params[first + Xd.shape[1] :]]
            return model.fit(start_params=free, disp=0, maxiter=self.maxiter)

    def _difference_polynomial(self) -> np.ndarray:
        """``(1 - B)^d (1 - B^m)^D`` in ascending powers of B."""
        poly = np.ones(1)
        seasonal = np.zeros(self.season_length + 1)
        seasonal[[0, -1]] = 1.0, -1.0
        for _ in range(self.D_):
            poly = np.convolve(poly, seasonal)
        for _ in range(self.d_):
            poly = np.convolve(poly, [1.0, -1.0])
        return poly

    def _psi_weights(self, h: int) -> np.ndarray:
        """MA(infinity) weights of the integrated model, for the h-step forecast variances."""
        p, q, P, Q, _ = self.order_
        arma = self.params_[len(self.params_) - (p + q + P + Q) :]
        phi, theta = _polys(arma, self.order_, self.season_length)
        return arma2ma(np.convolve(phi, self._difference_polynomial()), theta, lags=h)

    def predict(
        self, h: int, X: np.ndarray | None = None, levels: Sequence[int] = DEFAULT_LEVELS
    ) -> dict[str, np.ndarray]:
        R_future = None
        if self.X_tail_ is not None or self.order_[4]:
            Xd = None
            if self.X_tail_ is not None:
                if X is None:
                    raise ValueError("the model was fitted with exogenous regressors: X is required")
                Xd = difference(np.vstack([self.X_tail_, X]), self.d_, self.D_, self.season_length)
            R_future = _regressors(h, Xd, self.order_[4])
        with limit_threads(limits=1):
            result = _state_space(self.w_, self.R_, self.order_, self.season_length).filter(self.params_)
            w_mean = np.asarray(result.forecast(h, exog=R_future), dtype="float64")
            sigma_h = np.sqrt(result.scale * np.cumsum(self._psi_weights(h) ** 2))
        mean = self._integrate(w_mean)
        out = normal_intervals(mean, sigma_h, levels)
        if self.transform_ is not None:
            out = {key: self.transform_.inverse(values) for key, values in out.items()}
        return out

    @property
    def residuals_(self) -> np.ndarray:
        """In-sample one-step errors ``y_t - yhat_{t|t-1}`` on the data's scale (NaN while differencing).

        The Kalman filter's one-step errors of the differenced series are those
        of the undifferenced one (the past values are known); with a transform,
        the one-step forecast is transformed back, as ``predict`` does.
        """
        with limit_threads(limits=1):
            result = _state_space(self.w_, self.R_, self.order_, self.season_length).filter(self.params_)
        errors = np.asarray(result.resid, dtype="float64")
        lags = len(self.y_) - len(errors)
        z = self.transform_.forward(self.y_) if self.transform_ else self.y_
        fitted = z[lags:] - errors
        if self.transform_ is not None:
            fitted = self.transform_.inverse(fitted)
        return np.r_[np.full(lags, np.nan), self.y_[lags:] - fitted]

    def _integrate(self, w_future: np.ndarray) -> np.ndarray:
        """Undo the differencing: ``z_t = w_t - sum_k c_k z_{t-k}`` from the kept history tail."""
        poly = self._difference_polynomial()
        z = list(self.z_tail_)
        for value in w_future:
            z.append(value - sum(poly[k] * z[-k] for k in range(1, len(poly))))
        return np.asarray(z[len(self.z_tail_) :], dtype="float64")


class Arima(LocalForecaster):
    """Automatic seasonal ARIMA per series, optionally with exogenous regressors (``exog=True``).

    ``transform`` is ``None``, ``"log"`` or ``"auto"`` (Guerrero Box-Cox, strictly
    positive series only); ``search="fast"`` ranks candidates by CSS estimates
    and one exact likelihood evaluation, ``"mle"`` fully fits every candidate;
    ``maxiter`` bounds the final maximum-likelihood fit.
    """

    name = "arima"
    series_model = ArimaModel
    _parameter_constraints: ClassVar[dict] = {
        **ArimaModel._parameter_constraints,
        "exog": [BOOLEAN],
        **LOCAL_PARAMS,
    }

    def __init__(
        self,
        *,
        season_length: int = SEASON_LENGTH,
        transform: str | None = None,
        search: str = "fast",
        max_order: int = 5,
        maxiter: int = 50,
        exog: bool = False,
        min_obs: int | None = None,
        n_jobs: int = 1,
    ) -> None:
        self.season_length = season_length
        self.transform = transform
        self.search = search
        self.max_order = max_order
        self.maxiter = maxiter
        self.exog = exog
        self.min_obs = min_obs
        self.n_jobs = n_jobs

    @property
    def uses_exog(self) -> bool:  # type: ignore[override]
        return bool(self.exog)
