"""The scikit-learn half of the models benchmark.

IsolationForest, LocalOutlierFactor(novelty=True) and OneClassSVM, trained and scored on exactly the
matrices prepare.ts wrote (.cache/bench/models/<set>/{train,test}.csv), in the same two settings as
accuracy.ts, scored with sklearn.metrics, and timed the way accuracy.ts times its candidates (one
thread, the fastest of repeated passes of score_samples over the test matrix). Writes
.cache/bench/models/results/scikit-learn.json with the keys of results.ts's CandidateResult.

Run after prepare.ts: <venv>/bin/python bench/models/sklearn_peers.py [dataset ...]

With `--serve-throughput <dataset>` it instead fits the IsolationForest on that set's training rows
and then times one score_samples pass over the test matrix per `pass` line on stdin, printing the
seconds: throughput.ts interleaves these passes with its own, so both sides meet the same load.
"""

import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM
from threadpoolctl import threadpool_limits

DATASETS_DIR = Path(__file__).resolve().parents[2] / ".cache" / "bench" / "models"
SETTINGS = ["everything", "not-flagged"]
SEED = 0
# LOF and OCSVM cost grows with the square of the training rows: they train on a seeded sample.
KERNEL_TRAIN_ROWS = 4000
MIN_PASSES = 3
MIN_TIMED_SECONDS = 1.0

# Each peer: how it is built, and whether it trains on all rows or on the seeded sample. LOF and
# OCSVM get a StandardScaler in front (fitted on the same rows, no labels): without one, distances and
# the RBF kernel are dominated by the widest columns, which is not how anyone would run them.
PEERS = {
    "sklearn IsolationForest": (lambda: IsolationForest(random_state=SEED), False),
    "sklearn LocalOutlierFactor": (lambda: make_pipeline(StandardScaler(), LocalOutlierFactor(novelty=True)), True),
    "sklearn OneClassSVM": (lambda: make_pipeline(StandardScaler(), OneClassSVM()), True),
}
NOTES = {
    "sklearn IsolationForest": "defaults (100 trees, max_samples=256), random_state=0, all training rows",
    "sklearn LocalOutlierFactor": f"StandardScaler + LocalOutlierFactor(novelty=True, n_neighbors=20), on a seeded sample of at most {KERNEL_TRAIN_ROWS} training rows",
    "sklearn OneClassSVM": f"StandardScaler + OneClassSVM(rbf, nu=0.5, gamma='scale'), on a seeded sample of at most {KERNEL_TRAIN_ROWS} training rows",
}


def read_matrix(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return data[:, :-1], data[:, -1].astype(int)


def recall_at_fpr(labels, scores, max_fpr=0.01):
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    return float(tpr[fpr <= max_fpr].max())


def rows_per_second(score, rows):
    rates, timed = [], 0.0
    while len(rates) < MIN_PASSES or timed < MIN_TIMED_SECONDS:
        started = time.perf_counter()
        score(rows)
        seconds = time.perf_counter() - started
        timed += seconds
        rates.append(len(rows) / seconds)
    return float(max(rates))


def run(name):
    train_x, train_y = read_matrix(DATASETS_DIR / name / "train.csv")
    test_x, test_y = read_matrix(DATASETS_DIR / name / "test.csv")
    results = []
    for setting in SETTINGS:
        rows = train_x if setting == "everything" else train_x[train_y == 0]
        for peer, (build, sampled) in PEERS.items():
            fit_rows = rows
            if sampled and len(rows) > KERNEL_TRAIN_ROWS:
                fit_rows = rows[np.sort(np.random.default_rng(SEED).choice(len(rows), KERNEL_TRAIN_ROWS, replace=False))]
            model = build()
            started = time.perf_counter()
            model.fit(fit_rows)
            train_seconds = time.perf_counter() - started
            # score_samples is higher for normal rows; the benchmark's scores are higher for anomalies.
            scores = -model.score_samples(test_x)
            results.append({
                "dataset": name, "setting": setting, "candidate": peer, "implementation": "scikit-learn",
                "trainRows": int(len(fit_rows)), "testRows": int(len(test_x)),
                "rocAuc": float(roc_auc_score(test_y, scores)),
                "prAuc": float(average_precision_score(test_y, scores)),
                "recallAt1PctFpr": recall_at_fpr(test_y, scores),
                "trainSeconds": train_seconds,
                "scoreRowsPerSecond": rows_per_second(model.score_samples, test_x),
            })
            r = results[-1]
            print(f"{name} | {setting} | {peer}: ROC-AUC {r['rocAuc']:.3f}, PR-AUC {r['prAuc']:.3f}, {round(r['scoreRowsPerSecond'])} rows/s", flush=True)
    return results


def serve_throughput(name):
    train_x, _ = read_matrix(DATASETS_DIR / name / "train.csv")
    test_x, _ = read_matrix(DATASETS_DIR / name / "test.csv")
    model = IsolationForest(random_state=SEED).fit(train_x)
    model.score_samples(test_x)  # warm-up, as the TypeScript side's first (accuracy) pass
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "pass":
            break
        started = time.perf_counter()
        model.score_samples(test_x)
        print(time.perf_counter() - started, flush=True)


def main():
    if sys.argv[1:2] == ["--serve-throughput"]:
        with threadpool_limits(limits=1):
            serve_throughput(sys.argv[2])
        return
    # Default: every set prepare.ts has written.
    names = sys.argv[1:] or sorted(p.parent.name for p in DATASETS_DIR.glob("*/meta.json"))
    load_at_start = os.getloadavg()[0]
    with threadpool_limits(limits=1):
        results = [r for name in names for r in run(name)]
    out = DATASETS_DIR / "results" / "scikit-learn.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    runtime = f"Python {platform.python_version()}, scikit-learn {sklearn.__version__}, numpy {np.__version__}"
    out.write_text(json.dumps({
        "implementation": "scikit-learn", "runtime": runtime, "loadAverage": {"start": load_at_start, "end": os.getloadavg()[0]},
        "notes": NOTES, "results": results,
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
