"""The ``sinabs`` commands at tiny sizes: what they write, determinism, the page."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("matplotlib", reason="the commands need the demo extra (matplotlib)")
pytest.importorskip("sklearn", reason="the commands need the demo extra (scikit-learn)")
pytest.importorskip("tqdm", reason="the commands need the demo extra (tqdm)")

import torch

from sinabs.cli import main
from sinabs.cli.train import build_snn

PNG = b"\x89PNG\r\n\x1a\n"
TINY_TRAIN = ["--samples", "150", "--epochs", "2", "--timesteps", "6", "--hidden", "16"]
TINY_CONVERT = ["--samples", "150", "--epochs", "2", "--timesteps", "2,8", "--hidden", "16"]
TINY_BENCH = ["--size", "2", "5", "4", "--layers", "LIF", "ExpLeak", "--budget", "0.01"]


def _results(out: Path, command: str) -> dict[str, Any]:
    return json.loads((out / command / "results.json").read_text())


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every command once, at a tiny size, into one folder."""
    folder = tmp_path_factory.mktemp("out")
    for args in (
        ["gallery", "--dpi", "50"],
        ["train", *TINY_TRAIN],
        ["convert", *TINY_CONVERT],
        ["bench", *TINY_BENCH],
    ):
        assert main([*args, "--out", str(folder), "--quiet"]) == 0, args
    return folder


def test_gallery_figures(out: Path) -> None:
    results = _results(out, "gallery")
    files = [figure["file"] for figure in results["figures"]]
    # 6 neuron models, spike functions, resets, surrogates; descriptive, unique names
    assert len(files) == len(set(files)) == 9
    assert not any(name.startswith("figure_") for name in files)
    for name in ("spike_functions.png", "reset_mechanisms.png", "surrogate_gradients.png"):
        assert name in files
    for name in files:
        assert (out / "gallery" / name).read_bytes()[:8] == PNG


def test_gallery_neuron_figure_axes() -> None:
    """Labelled axes, legends outside the data, the threshold drawn on the spiking
    models and none on ExpLeak."""
    from sinabs.cli.gallery import NEURON_CASES, neuron_figure

    for case in NEURON_CASES:
        fig = neuron_figure(case)
        axes = fig.axes
        assert axes[-1].get_xlabel() == "time step"
        for ax in axes:
            assert ax.get_ylabel(), (case.file, ax)
            legend = ax.get_legend()
            assert legend is not None
            assert legend.get_bbox_to_anchor().x0 >= ax.get_window_extent().x1 - 1
        labels = [text.get_text() for text in axes[1].get_legend().get_texts()]
        if case.file.startswith("neuron_exp_leak"):
            assert not any("threshold" in label and "no" not in label for label in labels)
            assert len(axes) == 2  # input and membrane: no spikes to draw
        else:
            assert any("threshold" in label for label in labels), case.file
            assert axes[-1].get_ylabel().startswith("spikes")


def test_train_outputs(out: Path) -> None:
    results = _results(out, "train")
    summary = results["summary"]
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    assert len(results["history"]) == 2
    assert summary["synops_per_sample"] > 0
    assert summary["ann_macs_per_sample"] == 64 * 16 + 16 * 10
    for name in ("training_curve.png", "spike_raster.png"):
        assert (out / "train" / name).read_bytes()[:8] == PNG
    model = build_snn(16, "auto")
    model.load_state_dict(torch.load(out / "train" / "model.pt"))
    assert model(torch.ones(1, 6, 64)).shape == (1, 6, 10)


def test_convert_outputs(out: Path) -> None:
    results = _results(out, "convert")
    rows = results["accuracy_by_timesteps"]
    assert [row["timesteps"] for row in rows] == [2, 8]
    # more time steps, more spikes: synops grow with T
    assert rows[0]["synops_per_sample"] < rows[1]["synops_per_sample"]
    assert 0.0 <= results["summary"]["ann_accuracy"] <= 1.0
    assert (out / "convert" / "accuracy_vs_timesteps.png").read_bytes()[:8] == PNG


def test_bench_table(out: Path) -> None:
    (table,) = _results(out, "bench")["tables"]
    assert [row[0] for row in table["rows"]] == ["LIF", "ExpLeak"]
    for row in table["rows"]:
        assert all(value > 0 for value in row[1:])


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.captions = 0
        self.tables = 0
        self._in_caption = False
        self.caption_texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            self.images.append(values["src"] or "")
        elif tag == "a" and not (values.get("href") or "#").startswith("#"):
            self.links.append(values["href"] or "")
        elif tag == "table":
            self.tables += 1
        elif tag == "caption":
            self._in_caption = True
            self.caption_texts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption":
            self._in_caption = False

    def handle_data(self, data: str) -> None:
        if self._in_caption:
            self.caption_texts[-1] += data


def test_index_shows_every_figure_and_table(out: Path) -> None:
    page = _Page()
    page.feed((out / "index.html").read_text())
    pngs = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert sorted(page.images) == pngs  # every figure, once
    for src in page.images + page.links:
        assert not src.startswith(("/", "http")), src  # relative links only
        assert (out / src).is_file(), src
    tables = [
        table
        for command in ("gallery", "train", "convert", "bench")
        for table in _results(out, command)["tables"]
    ]
    assert page.tables == len(tables) == 3
    assert page.caption_texts == [table["title"] for table in tables]


def _train_metrics(folder: Path) -> dict[str, Any]:
    results = _results(folder, "train")
    return {"history": results["history"], "tables": results["tables"]}


def test_train_same_seed_same_results_with_progress(
    out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Again with the module's seed (0), this time not quiet: the same metrics, and
    the terminal shows the progress bar (stderr) and the report (stdout)."""
    assert main(["train", *TINY_TRAIN, "--seed", "0", "--out", str(tmp_path)]) == 0
    assert _train_metrics(tmp_path) == _train_metrics(out)
    captured = capsys.readouterr()
    assert "test accuracy" in captured.out and "synops" in captured.out
    assert "loss=" in captured.err and "acc=" in captured.err  # the tqdm bar
    assert str(tmp_path / "index.html") in captured.out


def test_train_other_seed_other_results(out: Path, tmp_path: Path) -> None:
    assert main(["train", *TINY_TRAIN, "--seed", "1", "--out", str(tmp_path), "--quiet"]) == 0
    assert _train_metrics(tmp_path) != _train_metrics(out)


def test_convert_same_seed_same_results(out: Path, tmp_path: Path) -> None:
    assert main(["convert", *TINY_CONVERT, "--seed", "0", "--out", str(tmp_path), "--quiet"]) == 0
    again = _results(tmp_path, "convert")["accuracy_by_timesteps"]
    assert again == _results(out, "convert")["accuracy_by_timesteps"]


def test_bench_network_writes_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``sinabs bench --network``: the runner's report and the command's table agree
    (one network and the two sinabs frameworks, to keep the test short)."""
    import sinabs.benchmarking as benchmarking

    real = benchmarking.run_network_benchmark

    def two_frameworks(**kwargs: Any) -> dict[str, Any]:
        return real(["mlp"], ["relu", "sinabs"], **kwargs)

    monkeypatch.setattr(benchmarking, "run_network_benchmark", two_frameworks)
    args = ["bench", "--network", "--quick", "--rounds", "1", "--out", str(tmp_path), "--quiet"]
    assert main(args) == 0
    (table,) = _results(tmp_path, "bench")["tables"]
    report = json.loads((tmp_path / "bench" / "network.json").read_text())
    assert report["settings"]["quick"] is True
    assert [row[:2] for row in table["rows"]] == [["mlp", "relu"], ["mlp", "sinabs"]]
    for row in table["rows"]:
        entry = report["results"][f"{row[0]}/{row[1]}"]
        assert row[2] == entry["median_ms"] > 0
    assert float(table["rows"][1][5]) == pytest.approx(
        report["ratios"]["mlp"]["sinabs_over_relu"], abs=0.005
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--device", "cuda"], "runs on the CPU"), (["--backend", "reference"], "fused CPU")],
)
def test_bench_network_refuses_other_devices_and_backends(
    flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "--network", *flags, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
