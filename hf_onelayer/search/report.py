"""Tables and plots of a hyper-parameter study (``hf-onelayer search ... --report_dir DIR``).

Writes ``DIR/trials.md`` (every trial: state, epochs run, best val perplexity, val BLEU and
``unk_rate`` at its best epoch, parameters), ``DIR/trials.json``, ``DIR/best_params.json``, ``DIR/tuned.json`` (the training config of the best
trial, given the base config) and Optuna's
matplotlib plots as PNG: optimization history, parameter importances, intermediate values.
"""

import json
import os

from ..utils import save_figure
from .space import SPACE

def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def trial_rows(study) -> list[dict]:
    """One row per trial; its best epoch is by val perplexity (a minimised study) or val BLEU (a maximised one)."""
    import optuna

    by_bleu = study.direction == optuna.study.StudyDirection.MAXIMIZE
    rank = (lambda e: -epochs[e]["bleu"]) if by_bleu else (lambda e: epochs[e]["perplexity"])
    rows = []
    for trial in study.trials:
        epochs = {int(k[5:]): v for k, v in trial.user_attrs.items() if k.startswith("epoch") and k[5:].isdigit()}
        best_epoch = min(epochs, key=rank) if epochs else None
        best = epochs.get(best_epoch, {})
        rows.append({
            "number": trial.number, "state": trial.state.name, "value": trial.value,
            "epochs_run": trial.user_attrs.get("epochs_run", 0), "best_epoch": best_epoch,
            "val_perplexity": best.get("perplexity"), "val_bleu": best.get("bleu"), "unk_rate": best.get("unk_rate"),
            "n_parameters": trial.user_attrs.get("n_parameters"),
            "duration_s": trial.duration.total_seconds() if trial.duration else None,
            "params": trial.params,
        })
    return rows


def tuned_config(base: dict, params: dict, embedding_flags: dict, epochs: float | None = None) -> dict:
    """A flat ``hf-onelayer train`` config: ``base`` (e.g. default.json) with the trial's values and
    the search's epoch budget (the configuration was chosen for that budget)."""
    config = dict(base, output_dir="runs/tuned")
    if epochs:
        config["num_train_epochs"] = epochs
    config.update({k: v for k, v in params.items() if k != "embedding_init"})
    config.update(embedding_flags.get(params.get("embedding_init", "random"), {}))
    return config


def write_report(study, out_dir: str, base_config: dict | None = None, embedding_flags: dict | None = None) -> list[dict]:
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import optuna
    from optuna.visualization import matplotlib as ovm

    os.makedirs(out_dir, exist_ok=True)
    rows = trial_rows(study)
    head = ["#", "state", "epochs", "val ppl (best epoch)", "val BLEU", "unk", "params", "min"]
    head += [label for label, _, _ in SPACE.values()]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in rows:
        ppl = f"{r['val_perplexity']:.2f} ({r['best_epoch']})" if r["val_perplexity"] else "–"
        cells = [str(r["number"]), r["state"].lower(), str(r["epochs_run"]), ppl,
                 _fmt(r["val_bleu"]) if r["val_bleu"] is not None else "–",
                 f"{100 * r['unk_rate']:.1f} %" if r["unk_rate"] is not None else "–",
                 f"{r['n_parameters'] / 1e6:.2f} M" if r["n_parameters"] else "–",
                 f"{r['duration_s'] / 60:.1f}" if r["duration_s"] else "–"]
        cells += [_fmt(r["params"].get(p, "–")) for p in SPACE]
        lines.append("| " + " | ".join(cells) + " |")
    with open(os.path.join(out_dir, "trials.md"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    with open(os.path.join(out_dir, "trials.json"), "w") as handle:
        json.dump(rows, handle, indent=1)

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if complete:
        best = study.best_trial
        with open(os.path.join(out_dir, "best_params.json"), "w") as handle:
            json.dump({"number": best.number, "value": best.value, "params": best.params}, handle, indent=1)
        if base_config is not None:
            with open(os.path.join(out_dir, "tuned.json"), "w") as handle:
                epochs = study.user_attrs.get("num_train_epochs") or max(r["epochs_run"] for r in rows)
                json.dump(tuned_config(base_config, best.params, embedding_flags or {}, epochs), handle, indent=2)
    plots = {"history.png": ovm.plot_optimization_history, "intermediate.png": ovm.plot_intermediate_values}
    if len(complete) >= 2:
        plots["importance.png"] = ovm.plot_param_importances
    for name, plot in plots.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            ax = plot(study)
        fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
        if name != "importance.png":
            axis = ax if hasattr(ax, "set_yscale") else ax.flat[0]
            axis.set_yscale("log")
            axis.set_ylabel("best val " + ("BLEU" if study.direction.name == "MAXIMIZE" else "perplexity") + " so far")
            if name == "intermediate.png":
                axis.set_xlabel("epoch")
        fig.set_size_inches(8, 5)
        save_figure(fig, os.path.join(out_dir, name))
    print("\n".join(lines))
    return rows
