"""Reference values for ClusteringTests: scikit-learn's KMeans and normalized_mutual_info_score.

Reads one JSON object on stdin:
  {"points": [[...], ...], "clusters": K, "restarts": R,
   "nmi": [[labels_a, labels_b], ...]}
and prints one JSON object:
  {"inertia": float, "labels": [...], "nmi": [float, ...], "sklearn": "1.x"}
"""
import json
import sys

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score

request = json.load(sys.stdin)
points = np.asarray(request["points"], dtype=np.float32)
fit = KMeans(
    n_clusters=request["clusters"], init="k-means++", n_init=request["restarts"], random_state=0, algorithm="lloyd"
).fit(points)
print(
    json.dumps(
        {
            "inertia": float(fit.inertia_),
            "labels": [int(v) for v in fit.labels_],
            "nmi": [float(normalized_mutual_info_score(a, b)) for a, b in request["nmi"]],
            "sklearn": sklearn.__version__,
        }
    )
)
