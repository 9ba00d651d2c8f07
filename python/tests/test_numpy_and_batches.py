"""Exported batches and simulations feed plain numpy: a forward pass written here from
PsychRNN's equations reproduces ``simulate``'s outputs; ``trials`` and ``trial_batches``
give reproducible task batches."""

import numpy as np
import pytest

import psychrnn_rs as pr

from conftest import PD_SCRIPT


def numpy_forward(w, inputs, alpha):
    """PsychRNN's Basic rate RNN (relu), no noise:
    x_t = (1-α) x_{t-1} + α (relu(x_{t-1}) W_recᵀ + u_t W_inᵀ + b_rec), y_t = relu(x_t) W_outᵀ + b_out."""
    b, steps, _ = inputs.shape
    x = np.repeat(w["init_state"].astype(np.float64), b, axis=0)
    states, outputs = [], []
    for t in range(steps):
        r = np.maximum(x, 0)
        x = (1 - alpha) * x + alpha * (r @ w["W_rec"].T + inputs[:, t] @ w["W_in"].T + w["b_rec"])
        states.append(x)
        outputs.append(np.maximum(x, 0) @ w["W_out"].T + w["b_out"])
    return np.stack(states, axis=1), np.stack(outputs, axis=1)


def test_a_numpy_forward_pass_of_the_weights_matches_simulate(tiny_run):
    sim = pr.simulate(tiny_run, n=16, seed=5, noise=0.0)
    assert sim.outputs.shape == (16, 200, 2)
    task = tiny_run.config["task"]
    states, outputs = numpy_forward(tiny_run.weights, sim.inputs.astype(np.float64), task["dt"] / task["tau"])
    np.testing.assert_allclose(sim.states, states, atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(sim.outputs, outputs, atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(sim.rates, np.maximum(states, 0), atol=1e-5, rtol=1e-4)
    # The scorer's verdicts: argmax of the outputs in the response epoch against the target's.
    start, end = sim.epoch("response")
    chosen = [np.argmax(outputs[i, start[i]:end[i]].mean(0)) for i in range(16)]
    wanted = [np.argmax(sim.targets[i, start[i]:end[i]].mean(0)) for i in range(16)]
    assert list(sim.correct) == [c == w for c, w in zip(chosen, wanted)]


def test_silenced_units_match_numpy_with_their_columns_zeroed(tiny_run):
    silenced = [0, 3, 5]
    sim = pr.simulate(tiny_run, n=8, seed=1, noise=0.0, silence=silenced)
    w = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in tiny_run.weights.items()}
    w["W_rec"][:, silenced] = 0
    w["W_out"][:, silenced] = 0
    task = tiny_run.config["task"]
    _, outputs = numpy_forward(w, sim.inputs.astype(np.float64), task["dt"] / task["tau"])
    np.testing.assert_allclose(sim.outputs, outputs, atol=1e-5, rtol=1e-4)
    everyone = pr.simulate(tiny_run, n=2, seed=1, noise=0.0, silence=range(8))
    np.testing.assert_allclose(everyone.outputs, np.broadcast_to(tiny_run.weights["b_out"], (2, 200, 2)), atol=1e-6)


def test_per_step_connectivity_masks_reach_the_binary(tiny_run):
    zero = pr.simulate(tiny_run, n=4, seed=2, noise=0.0, connectivity=np.zeros((200, 8, 8)))
    w = dict(tiny_run.weights, W_rec=np.zeros((8, 8), np.float32))
    task = tiny_run.config["task"]
    _, outputs = numpy_forward(w, zero.inputs.astype(np.float64), task["dt"] / task["tau"])
    np.testing.assert_allclose(zero.outputs, outputs, atol=1e-5, rtol=1e-4)
    with pytest.raises(pr.PsychrnnError, match=r"`connectivity` has shape \[3, 8, 8\], expected \[200, 8, 8\]"):
        pr.simulate(tiny_run, n=4, connectivity=np.ones((3, 8, 8)))


def test_test_draws_fresh_trials_without_touching_the_runs_file(tiny_run):
    before = (tiny_run.path / "trials.npz").read_bytes()
    fresh = pr.test(tiny_run, n=32, seed=11)
    assert (tiny_run.path / "trials.npz").read_bytes() == before
    assert fresh.outputs.shape == (32, 200, 2)
    assert not np.array_equal(fresh.inputs, tiny_run.trials.inputs[:32])
    again = tiny_run.test(n=32, seed=11)
    np.testing.assert_array_equal(again.outputs, fresh.outputs)


def test_trials_are_reproducible_task_batches(tmp_path):
    a = pr.trials(PD_SCRIPT, n=10, seed=4)
    b = pr.trials(PD_SCRIPT, n=10, seed=4)
    c = pr.trials(PD_SCRIPT, n=10, seed=5)
    assert a.inputs.shape == (10, 200, 2) and a.inputs.dtype == np.float32
    assert a.outputs is None and a.correct is None
    np.testing.assert_array_equal(a.inputs, b.inputs)
    assert not np.array_equal(a.inputs, c.inputs)
    # The targets say the trial's direction in the response epoch, and the mask counts there.
    start, end = a.epoch("response")
    for i in range(10):
        direction = int(a.conditions["direction"][i])
        assert a.targets[i, start[i]:end[i], direction].min() > a.targets[i, start[i]:end[i], 1 - direction].max()
        assert a.mask[i, start[i]:end[i]].min() > 0


def test_trial_batches_split_draws_with_successive_seeds():
    batches = list(pr.trial_batches(PD_SCRIPT, batch_size=4, seed=7, n_batches=3, batches_per_call=2))
    assert len(batches) == 3
    first_call = pr.trials(PD_SCRIPT, n=8, seed=7)
    second_call = pr.trials(PD_SCRIPT, n=4, seed=8)
    np.testing.assert_array_equal(batches[0][0], first_call.inputs[:4])
    np.testing.assert_array_equal(batches[1][1], first_call.targets[4:])
    np.testing.assert_array_equal(batches[2][2], second_call.mask)
    # A training step of a numpy linear readout, as a PyTorch loop would take them.
    x, y, m = batches[0]
    readout = np.zeros((2, 2), np.float32)
    error = (x @ readout.T - y) * m
    assert np.isfinite(error).all() and error.shape == (4, 200, 2)


def test_errors_from_the_binary_carry_its_message(tmp_path, tiny_run):
    bad = tmp_path / "bad.rhai"
    bad.write_text("let x = ;\n")
    with pytest.raises(pr.PsychrnnError) as caught:
        pr.run(bad, out=tmp_path / "never", progress=False)
    assert str(caught.value) == f"{bad}:1:9: Unexpected ';'"
    assert caught.value.returncode == 2
    assert not (tmp_path / "never").exists()
    with pytest.raises(pr.PsychrnnError, match=r"config field `model.nrec`: unknown field `nrec`.*did you mean `n_rec`\?"):
        pr.trials(PD_SCRIPT, n=2, model={"nrec": 3})
    with pytest.raises(pr.PsychrnnError, match=r"^--silence `9`: units are 0..7 and a range goes up$"):
        pr.simulate(tiny_run, n=2, silence=[3, 9])


def test_given_inputs_run_through_the_network_like_numpy(tiny_run):
    """PsychRNN's BasicSimulator.run_trials(trial_input): any inputs, any number of steps."""
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(3, 57, 2)).astype(np.float32)
    sim = pr.simulate(tiny_run, inputs, noise=0.0)
    assert sim.outputs.shape == (3, 57, 2) and sim.correct is None
    np.testing.assert_array_equal(sim.inputs, inputs)
    task = tiny_run.config["task"]
    states, outputs = numpy_forward(tiny_run.weights, inputs.astype(np.float64), task["dt"] / task["tau"])
    np.testing.assert_allclose(sim.outputs, outputs, atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(sim.states, states, atol=1e-5, rtol=1e-4)
    # An edited task batch keeps its targets and mask.
    batch = pr.trials(PD_SCRIPT, n=4, seed=9)
    batch.inputs[:, :, 1] = 0.0
    edited = tiny_run.simulate(batch, noise=0.0)
    np.testing.assert_array_equal(edited.inputs, batch.inputs)
    np.testing.assert_array_equal(edited.targets, batch.targets)
    np.testing.assert_array_equal(edited.mask, batch.mask)


def test_given_inputs_that_do_not_fit_are_refused(tiny_run):
    with pytest.raises(pr.PsychrnnError, match=r"^--inputs .*inputs.npz: `inputs` has shape \[2, 10, 3\], expected \[trials, steps, 2\]"):
        pr.simulate(tiny_run, np.zeros((2, 10, 3)))
    bad = np.zeros((2, 10, 2))
    bad[1, 4, 1] = np.nan
    with pytest.raises(pr.PsychrnnError, match=r"`inputs` holds NaN at trial 1, step 4, channel 1; values must be finite numbers$"):
        pr.simulate(tiny_run, bad)
