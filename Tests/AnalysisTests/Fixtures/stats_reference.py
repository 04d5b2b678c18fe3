"""Reference values for StatsTests, computed with scipy independently of the Swift code in
Sources/Orchestrator/Analysis/Stats: the normal CDF and quantile, Student t quantiles, the
probit/logit baseline fit, effective robustness and its interval (the formula documented in
EffectiveRobustness.swift, evaluated with scipy's distributions). Prints one JSON object."""
import json

import numpy as np
from scipy import special, stats

out = {}

ps = [1e-300, 1e-100, 1e-12, 1e-9, 1e-6, 1e-3, 0.01, 0.02, 0.02425, 0.0243, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75,
      0.9, 0.97, 0.97575, 0.99, 0.999, 1 - 1e-6, 1 - 1e-9]
out["probit"] = [[p, float(stats.norm.ppf(p))] for p in ps]
xs = [-38.0, -20.0, -8.0, -5.0, -2.5, -1.0, -0.1, 0.0, 0.3, 1.0, 1.959963984540054, 3.0, 6.0, 9.0]
out["cdf"] = [[x, float(stats.norm.cdf(x))] for x in xs]
out["t_quantile"] = [[p, df, float(stats.t.ppf(p, df))]
                     for df in [1, 2, 3, 4, 5, 8, 13, 30, 100, 1000] for p in [0.6, 0.9, 0.975, 0.995, 0.025]]

# A baseline of 9 models (e.g. checkpoints along one run) and 4 models to score.
base_id = [0.42, 0.51, 0.58, 0.63, 0.69, 0.74, 0.78, 0.81, 0.835]
base_ood = [0.20, 0.255, 0.31, 0.335, 0.39, 0.43, 0.47, 0.49, 0.525]
models = [[0.80, 0.52, 500, 500], [0.62, 0.30, 1000, None], [0.90, 0.70, 640, 1280], [0.45, 0.21, 200, 300]]
out["baseline"] = {"id": base_id, "ood": base_ood}
out["models"] = models

links = {
    "probit": (stats.norm.ppf, stats.norm.cdf, stats.norm.pdf),
    "logit": (special.logit, special.expit, lambda z: special.expit(z) * (1 - special.expit(z))),
}
for name, (g, ginv, ginv_slope) in links.items():
    x = g(np.array(base_id))
    y = g(np.array(base_ood))
    fit = stats.linregress(x, y)
    n = len(x)
    resid = y - (fit.slope * x + fit.intercept)
    s = float(np.sqrt(np.sum(resid ** 2) / (n - 2)))
    sxx = float(np.sum((x - x.mean()) ** 2))
    tq = stats.t.ppf(0.975, n - 2)
    zq = stats.norm.ppf(0.975)
    rows = []
    for idacc, oodacc, n_ood, n_id in models:
        x0 = float(g(idacc))
        yhat = fit.slope * x0 + fit.intercept
        expected = float(ginv(yhat))
        er = oodacc - expected
        slope = float(ginv_slope(yhat))
        w_line = tq * slope * s * np.sqrt(1 + 1 / n + (x0 - x.mean()) ** 2 / sxx)
        w_ood = zq * np.sqrt(oodacc * (1 - oodacc) / n_ood)
        w_id = 0.0
        if n_id is not None:
            dg = 1 / float(ginv_slope(g(idacc)))  # dg/dp
            w_id = zq * slope * abs(fit.slope) * dg * np.sqrt(idacc * (1 - idacc) / n_id)
        w = float(np.sqrt(w_line ** 2 + w_ood ** 2 + w_id ** 2))
        rows.append({"expected": expected, "er": er, "low": er - w, "high": er + w})
    out["fit_" + name] = {"a": float(fit.slope), "b": float(fit.intercept), "r2": float(fit.rvalue ** 2), "s": s,
                 "models": rows}

print(json.dumps(out))
