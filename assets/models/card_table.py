#!/usr/bin/env python3
"""Prints the model card's results table from assets/models/logs/*.json (train_zoo.sh writes
them). The shipped model is the average of the last epochs' weights when the log says so
(--average-last), else the last epoch's; no model or epoch was picked by its test score. The
mean held-out score of the last ten epochs is shown beside it: with 14 held-out clips one
epoch's score moves by one or two clips from epoch to epoch, and the mean is the steadier
estimate of what the recipe gives. Run with another folder as the argument to
tabulate other logs (e.g. DEST of train_zoo.sh)."""
import json
import pathlib
import sys

HERE = pathlib.Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent
ORDER = ["sum", "concat", "film", "gated_sum", "gated_concat", "audio", "visual"]

print("| model | fusion | epochs | train time | train acc (last epoch) | held-out acc, shipped model | held-out loss | held-out acc, mean of the last 10 epochs | size |")
print("|---|---|---|---|---|---|---|---|---|")
for name in ORDER:
    log_path = HERE / "logs" / f"{name}.json"
    if not log_path.exists():
        continue
    log = json.loads(log_path.read_text())
    last = log["epochs"][-1]
    secs = sum(e["seconds"] for e in log["epochs"])
    n_val = log["val_items"]
    shipped = log.get("averaged") or last
    what = f" (mean of epochs {shipped['epochs'][0]}-{shipped['epochs'][-1]})" if "averaged" in log else ""
    hits = round(shipped["val_acc"] * n_val)
    tail = [e["val_acc"] for e in log["epochs"][-10:]]
    mean_tail = sum(tail) / len(tail)
    size = (HERE / f"{name}.safetensors").stat().st_size / 1024
    print(f"| {name} | {log['config']['fusion']} | {len(log['epochs'])} | {secs / 60:.1f} min | "
          f"{100 * last['train_acc']:.0f}% | {100 * shipped['val_acc']:.1f}% ({hits}/{n_val}){what} | "
          f"{shipped['val_loss']:.2f} | {100 * mean_tail:.1f}% ({mean_tail * n_val:.1f}/{n_val}) | {size:.0f} KiB |")
