//! A task written in Rust instead of Rhai, trained through the library.
//!
//! The task: report which of two inputs was on during a stimulus, after a delay.
//! Run: `cargo run --release --example native_task`.

use std::sync::Arc;

use psychrnn::model::{build_network, LossKind, ModelConfig};
use psychrnn::random::{stream, Rng};
use psychrnn::task::{
    fill_epochs, generate_batch, ConditionValue, Conditions, Distribution, Epoch, EpochValues,
    Task, TaskShape, Trial, TrialError,
};
use psychrnn::train::{evaluate, train, TrainConfig};

/// Delayed report of which of two channels was on.
struct DelayedReport {
    shape: TaskShape,
}

fn epoch(name: &str, duration: Option<f64>, input: [f32; 2], target: [f32; 2], mask: f32) -> Epoch {
    Epoch {
        name: name.into(),
        duration: duration.map(Distribution::Constant),
        values: EpochValues {
            input: input.to_vec(),
            target: target.to_vec(),
            mask: vec![mask; 2],
            input_noise: None,
        },
    }
}

impl Task for DelayedReport {
    fn name(&self) -> &str {
        "delayed_report"
    }

    fn shape(&self) -> &TaskShape {
        &self.shape
    }

    fn trial(&self, rng: &mut Rng) -> Result<Trial, TrialError> {
        let side = rng.below(2) as usize;
        let delay = rng.uniform_range(100.0, 300.0);
        let mut input = [0.0; 2];
        input[side] = 1.0;
        let mut target = [0.0; 2];
        target[side] = 1.0;
        let epochs = [
            epoch("fixation", Some(100.0), [0.0; 2], [0.0; 2], 0.0),
            epoch("stimulus", Some(200.0), input, [0.0; 2], 0.0),
            epoch("delay", Some(delay), [0.0; 2], [0.0; 2], 1.0),
            epoch("response", None, [0.0; 2], target, 1.0),
        ];
        let filled = fill_epochs(&self.shape, &epochs, 0.05, rng)?;
        let mut conditions = Conditions::new();
        conditions.insert("side".into(), ConditionValue::Number(side as f64));
        conditions.insert("delay".into(), ConditionValue::Number(delay));
        Ok(Trial {
            inputs: filled.inputs,
            targets: filled.targets,
            mask: filled.mask,
            conditions,
            epochs: filled.spans,
        })
    }
}

fn main() -> anyhow::Result<()> {
    let task = Arc::new(DelayedReport {
        shape: TaskShape {
            inputs: vec!["left".into(), "right".into()],
            outputs: vec!["report_left".into(), "report_right".into()],
            dt: 10.0,
            tau: 100.0,
            duration: 1000.0,
        },
    });
    let seed = 1;
    // A 20-unit rate RNN obeying Dale's principle (80% excitatory), with recurrent noise.
    let model_config = ModelConfig {
        n_rec: 20,
        dale_ratio: Some(0.8),
        rec_noise: 0.05,
        ..ModelConfig::default()
    };
    let model =
        build_network(&model_config, task.shape(), seed, std::path::Path::new("."))?.network;
    let config = TrainConfig {
        iterations: 300,
        eval_every: 100,
        ..TrainConfig::default()
    };
    let outcome = train(
        model.as_ref(),
        task.clone(),
        &config,
        LossKind::Mse,
        seed,
        |row| {
            println!(
                "iteration {:>4}: loss {:.4}, accuracy {:.3}",
                row.iteration, row.loss, row.accuracy
            );
        },
    )?;
    let test = generate_batch(task.as_ref(), seed, stream::TEST, 0, 256)?;
    let result = evaluate(
        model.as_ref(),
        task.as_ref(),
        &test,
        &mut Rng::derive(seed, &[stream::REC_NOISE, stream::TEST]),
        LossKind::Mse,
    )?;
    println!(
        "test accuracy {:.3} after {} iterations ({:.1} s)",
        result.accuracy, outcome.iterations, outcome.wall_seconds
    );
    Ok(())
}
