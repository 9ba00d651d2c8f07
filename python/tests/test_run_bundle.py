"""``pr.run`` trains through the binary and ``load_run`` reads back exactly what is in the
run directory, checked against the files read independently (np.load, zipfile, csv, yaml)."""

import csv
import shutil
import zipfile

import numpy as np
import pandas as pd
import pytest
import yaml

import psychrnn_rs as pr
from psychrnn_rs import run_bundle

from conftest import PD_SCRIPT, TINY


def test_run_applies_the_settings_and_seed(tiny_run):
    config = yaml.safe_load((tiny_run.path / "config.yaml").read_text())
    assert tiny_run.config == config
    assert config["seed"] == 3
    assert config["model"]["n_rec"] == 8
    assert config["train"]["iterations"] == 30
    assert "model.n_rec=8" in config["overrides"]
    assert tiny_run.summary["iterations"] == 30
    assert tiny_run.summary["test_trials"] == 64


def test_weights_are_the_npz_arrays_under_psychrnns_keys(tiny_run):
    raw = np.load(tiny_run.path / "weights.npz")  # no pickles: numeric keys only
    w = tiny_run.weights
    for key in ["W_in", "W_rec", "W_out", "b_rec", "b_out", "init_state", "Dale_rec", "Dale_out",
                "input_connectivity", "rec_connectivity", "output_connectivity"]:
        assert w[key].dtype == np.float32
        np.testing.assert_array_equal(w[key], raw[key], err_msg=key)
    assert w["W_in"].shape == (8, 2) and w["W_rec"].shape == (8, 8) and w["W_out"].shape == (2, 8)
    assert w["init_state"].shape == (1, 8)
    # The pickled entries, decoded without importing TensorFlow: the raw pickle names the function.
    raw_pickle = zipfile.ZipFile(tiny_run.path / "weights.npz").read("transfer_function.npy")
    assert b"tensorflow\nnn.relu" in raw_pickle
    assert w["transfer_function"] == "tensorflow.nn.relu"
    assert w["dale_ratio"] is None


def test_dale_ratio_and_transfer_function_round_trip(tmp_path):
    r = pr.run(PD_SCRIPT, out=tmp_path / "dale", progress=False,
               model={"n_rec": 10, "dale_ratio": 0.8, "transfer_function": "tanh"},
               train={"iterations": 2, "batch_size": 4, "eval_trials": 4, "test_trials": 8},
               report={"enabled": False})
    assert r.weights["dale_ratio"] == pytest.approx(0.8)
    assert r.weights["transfer_function"] == "tensorflow.nn.tanh"
    # Dale's principle, visible in the arrays: 8 excitatory units, 2 inhibitory ones.
    np.testing.assert_array_equal(np.diag(r.weights["Dale_rec"]), [1] * 8 + [-1] * 2)
    assert (r.weights["W_rec"][:, 8:] <= 0).all() and (r.weights["W_rec"][:, :8] >= 0).all()


def test_trials_are_the_npz_arrays_with_conditions_and_epochs(tiny_run):
    raw = np.load(tiny_run.path / "trials.npz")
    t = tiny_run.trials
    for key in ["inputs", "targets", "mask", "outputs", "states", "rates", "correct",
                "epoch_start", "epoch_end"]:
        np.testing.assert_array_equal(getattr(t, key), raw[key], err_msg=key)
    assert t.outputs.shape == (64, 200, 2) and t.states.shape == (64, 200, 8)
    assert t.input_names == ["evidence_0", "evidence_1"]
    assert t.output_names == ["choice_0", "choice_1"]
    assert (t.dt, t.tau) == (10.0, 100.0)
    np.testing.assert_array_equal(t.conditions["coherence"], raw["condition_coherence"])
    # Epochs tile each trial: fixation, stimulus, gap, response, from step 0 to the last step.
    for i in range(len(t)):
        spans = t.epoch_spans(i)
        assert [s[0] for s in spans] == ["fixation", "stimulus", "gap", "response"]
        assert spans[0][1] == 0 and spans[-1][2] == 200
        assert all(a[2] == b[1] for a, b in zip(spans, spans[1:]))
    start, end = t.epoch("stimulus")
    np.testing.assert_array_equal(start, raw["epoch_start"][:, list(raw["epoch_names"]).index("stimulus")])
    with pytest.raises(KeyError, match="no epoch `delay`; epochs: fixation, stimulus, gap, response"):
        t.epoch("delay")
    # The summary's accuracy is the scorer's verdicts on these trials.
    assert tiny_run.summary["final_accuracy"] == pytest.approx(raw["correct"].mean())
    assert t.accuracy == pytest.approx(raw["correct"].mean())
    # Indexing keeps trials aligned with their conditions.
    picked = t[t.conditions["direction"] == 1]
    assert len(picked) == int((raw["condition_direction"] == 1).sum())
    np.testing.assert_array_equal(picked.inputs, raw["inputs"][raw["condition_direction"] == 1])


def test_history_is_history_csv_as_a_dataframe(tiny_run):
    with open(tiny_run.path / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    h = tiny_run.history
    assert isinstance(h, pd.DataFrame)
    assert list(h.columns) == ["iteration", "trials_seen", "loss", "eval_loss", "accuracy", "stage", "seconds"]
    assert len(h) == len(rows) >= 1
    assert list(h.iteration) == [int(r["iteration"]) for r in rows]
    np.testing.assert_allclose(h.loss, [float(r["loss"]) for r in rows])
    assert h.iteration.iloc[-1] == 30 and h.trials_seen.iloc[-1] == 30 * 8
    pandas_read = pd.read_csv(tiny_run.path / "history.csv")
    np.testing.assert_allclose(h.accuracy, pandas_read.accuracy)


def test_without_pandas_tables_are_dicts_of_arrays(tiny_run, monkeypatch):
    monkeypatch.setattr(run_bundle, "_pandas", None)
    fresh = pr.load_run(tiny_run.path)
    h = fresh.history
    assert isinstance(h, dict) and h["iteration"][-1] == 30
    by = fresh.accuracy_by_condition
    assert isinstance(by, dict) and by["condition"] == "signed coherence"


def test_accuracy_by_condition_agrees_with_the_trials(tiny_run):
    """Recomputed from trials.npz: signed coherence is -coherence where direction is 0."""
    raw = np.load(tiny_run.path / "trials.npz")
    signed = np.where(raw["condition_direction"] == 0, -1.0, 1.0) * raw["condition_coherence"]
    by = tiny_run.accuracy_by_condition
    assert by.attrs["condition"] == "signed coherence"
    values = np.unique(signed)
    np.testing.assert_allclose(by.value, values)
    for value, trials, accuracy in zip(by.value, by.trials, by.accuracy):
        chosen = np.isclose(signed, value)
        assert trials == chosen.sum()
        assert accuracy == pytest.approx(raw["correct"][chosen].mean())


def test_analysis_holds_the_yaml_and_the_arrays(tiny_run):
    analysis = tiny_run.analysis
    assert analysis == {**yaml.safe_load((tiny_run.path / "analysis.yaml").read_text()),
                        "arrays": analysis["arrays"]}
    raw = np.load(tiny_run.path / "analysis.npz")
    np.testing.assert_array_equal(analysis["arrays"]["pca_components"], raw["pca_components"])
    assert tiny_run.report == tiny_run.path / "report" / "index.html"


def test_a_newer_format_version_is_refused(tiny_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run.path, copy)
    text = (copy / "config.yaml").read_text().replace("format_version: 1\n", "format_version: 99\n", 1)
    (copy / "config.yaml").write_text(text)
    with pytest.raises(pr.PsychrnnError, match=r"config.yaml has format_version 99; this psychrnn_rs reads format_version 1"):
        pr.load_run(copy)


def test_a_folder_that_is_no_run_is_refused(tmp_path):
    with pytest.raises(pr.PsychrnnError, match="is not a psychrnn run directory: it has no config.yaml"):
        pr.load_run(tmp_path)


def test_run_without_out_claims_runs_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = {**TINY, "train": {**TINY["train"], "iterations": 2}, "report": {"enabled": False}}
    first = pr.run(PD_SCRIPT, progress=False, **settings)
    second = pr.run(PD_SCRIPT, progress=False, **settings)
    assert first.path.resolve() == (tmp_path / "runs" / "perceptual_discrimination").resolve()
    assert second.path.resolve() == (tmp_path / "runs" / "perceptual_discrimination-2").resolve()
    assert second.summary["iterations"] == 2


def test_progress_lines_stream_to_stdout(tmp_path, capsys):
    settings = {**TINY, "train": {**TINY["train"], "iterations": 4, "eval_every": 2}}
    pr.run(PD_SCRIPT, out=tmp_path / "a", progress=True, **settings)
    shown = capsys.readouterr().out
    assert "psychrnn 0.1.0: perceptual_discrimination — 8 units" in shown
    assert "iter      2/4" in shown and "iter      4/4" in shown
    assert "done: test accuracy" in shown
    pr.run(PD_SCRIPT, out=tmp_path / "b", progress=False, **settings)
    assert capsys.readouterr().out == ""
