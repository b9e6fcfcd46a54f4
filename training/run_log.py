"""A training run's records: metrics CSV, loss-curve PNG and, optionally, TensorBoard event files."""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from backend.fileio import atomic_path, write_text_atomic

COLUMNS = ("step", "epoch", "lr", "train_loss", "train_mse", "val_loss", "val_mse", "elapsed_s")


class RunLog:
    """Rows of COLUMNS kept in memory and rewritten atomically, so a resumed run drops rows past its step."""

    def __init__(self, run_dir: Path, tensorboard: bool = False):
        self.csv_path = run_dir / "metrics.csv"
        self.png_path = run_dir / "loss.png"
        self.rows: list[dict] = self._read_rows()
        self.tensorboard_dir = run_dir / "tensorboard" if tensorboard else None
        self.writer = None
        if tensorboard:
            self._check_tensorboard()

    def _read_rows(self) -> list[dict]:
        if not self.csv_path.is_file():
            return []
        with open(self.csv_path, newline="", encoding="utf-8") as handle:
            rows = [{key: _number(value) for key, value in row.items()} for row in csv.DictReader(handle)]
        for row in rows:
            row["step"], row["epoch"] = int(row["step"]), int(row["epoch"])
        return rows

    @staticmethod
    def _check_tensorboard() -> None:
        try:
            import torch.utils.tensorboard  # noqa: F401
        except ImportError:
            raise ValueError("TensorBoard logging needs the tensorboard package, which is not installed; "
                             "leave out --tensorboard (metrics.csv and loss.png are always written)") from None

    def start_at(self, step: int) -> None:
        """Forget rows after `step`, in the CSV and in TensorBoard's view (a resumed run repeats them)."""
        self.rows = [row for row in self.rows if row["step"] <= step]
        if self.tensorboard_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.tensorboard_dir), purge_step=step + 1 if step else None)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def add(self, row: dict) -> None:
        """Append a row; a second row for the same step fills in the first one's missing values."""
        row = {key: row.get(key, math.nan) for key in COLUMNS}
        if self.rows and self.rows[-1]["step"] == row["step"]:
            last = self.rows[-1]
            row = {key: value if not _missing(value) else last[key] for key, value in row.items()}
            self.rows[-1] = row
        else:
            self.rows.append(row)
        if self.writer is not None:
            for key, value in row.items():
                if key not in ("step", "epoch") and not math.isnan(value):
                    self.writer.add_scalar(key, value, row["step"])

    def flush(self) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(self.rows)
        write_text_atomic(self.csv_path, buffer.getvalue())
        self.plot()
        if self.writer is not None:
            self.writer.flush()

    def plot(self) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for key, label in (("train_loss", "train"), ("val_loss", "validation")):
            points = [(r["step"], r[key]) for r in self.rows if not math.isnan(r[key])]
            if points:
                ax.plot(*zip(*points), label=label, marker="o" if key == "val_loss" else None, markersize=3)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        with atomic_path(self.png_path) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
        plt.close(fig)


def _missing(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _number(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan
