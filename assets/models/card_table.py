#!/usr/bin/env python3
"""Prints the model card's results table from assets/models/logs/*.json (train_zoo.sh writes
them). Held-out accuracy is the last epoch's: no model or epoch was picked by its test score."""
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
ORDER = ["sum", "concat", "film", "gated_sum", "gated_concat", "audio", "visual"]

print("| model | fusion | epochs | train time | train acc (last epoch) | held-out acc | held-out loss | size |")
print("|---|---|---|---|---|---|---|---|")
for name in ORDER:
    log_path = HERE / "logs" / f"{name}.json"
    if not log_path.exists():
        continue
    log = json.loads(log_path.read_text())
    last = log["epochs"][-1]
    secs = sum(e["seconds"] for e in log["epochs"])
    n_val = log["val_items"]
    hits = round(last["val_acc"] * n_val)
    size = (HERE / f"{name}.safetensors").stat().st_size / 1024
    print(f"| {name} | {log['config']['fusion']} | {len(log['epochs'])} | {secs / 60:.1f} min | "
          f"{100 * last['train_acc']:.0f}% | {100 * last['val_acc']:.1f}% ({hits}/{n_val}) | "
          f"{last['val_loss']:.2f} | {size:.0f} KiB |")
