//! Initial weights, as PsychRNN's initialisers make them.

use super::config::{InOutInit, ModelConfig, RecInit, SpectralRadiusOf};
use super::{Constraints, RateRnnWeights};
use crate::linalg::spectral_radius;
use crate::random::{stream, Rng};

/// Glorot draws for a [rows, cols] matrix with 0/1 mask `c`: entry (i, j) from
/// N(0, sqrt(2 / (fan_in_i + fan_out_j))) or U(±sqrt(6 / (fan_in_i + fan_out_j))), fan-in = row
/// sum and fan-out = column sum of the mask (PsychRNN's `glorot_gauss` / `glorot_unif`).
/// Values are not masked here; masks apply when weights are used.
pub fn glorot(c: &[f32], rows: usize, cols: usize, uniform: bool, rng: &mut Rng) -> Vec<f32> {
    let fan_in: Vec<f64> = (0..rows)
        .map(|i| c[i * cols..(i + 1) * cols].iter().map(|&v| v as f64).sum())
        .collect();
    let fan_out: Vec<f64> = (0..cols)
        .map(|j| (0..rows).map(|i| c[i * cols + j] as f64).sum())
        .collect();
    let mut out = Vec::with_capacity(rows * cols);
    for fi in &fan_in {
        for fo in &fan_out {
            let fan = fi + fo;
            let v = if fan == 0.0 {
                0.0
            } else if uniform {
                let limit = (6.0 / fan).sqrt();
                rng.uniform_range(-limit, limit)
            } else {
                rng.normal() * (2.0 / fan).sqrt()
            };
            out.push(v as f32);
        }
    }
    out
}

/// PsychRNN's `balance_dale_ratio`: with v_j = 1 for excitatory and r/(1−r) for inhibitory
/// units and n_j the norm of row j of C_rec·diag(v), column j of W_rec is scaled by v_j / n_j,
/// so excitation and inhibition onto each unit start balanced. No-op without Dale.
pub fn balance_dale_ratio(w_rec: &mut [f32], k: &Constraints) {
    let (Some(r), Some(e)) = (k.dale_ratio, k.n_excitatory()) else {
        return;
    };
    let n = k.n_rec;
    let v: Vec<f64> = (0..n)
        .map(|j| if j < e { 1.0 } else { r / (1.0 - r) })
        .collect();
    let norms: Vec<f64> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| (k.rec_connectivity[i * n + j] as f64 * v[j]).powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    for i in 0..n {
        for j in 0..n {
            if norms[j] > 0.0 {
                w_rec[i * n + j] = (w_rec[i * n + j] as f64 * v[j] / norms[j]) as f32;
            }
        }
    }
}

/// Initial weights for a rate RNN with constraints `k`, drawn from `seed` (each matrix from
/// its own stream). W_rec follows `config.w_rec_init`; for `gaussian_spectral_radius` it is
/// N(0, 1), E/I-balanced ([`balance_dale_ratio`]), then rescaled so that the matrix
/// `config.spectral_radius_of` names has spectral radius `config.spectral_radius`: the raw
/// signed matrix (PsychRNN's `GaussianSpectralRadius`) or the effective one (masks and Dale
/// applied; they differ once masks or Dale are on). Biases start at 0 and the initial state at
/// 0.1 + 0.01·N(0, 1).
pub fn initial_weights(config: &ModelConfig, k: &Constraints, seed: u64) -> RateRnnWeights {
    let (n_in, n, n_out) = (k.n_in, k.n_rec, k.n_out);
    let uniform = config.w_init == InOutInit::GlorotUnif;
    let w_in = glorot(
        &k.input_connectivity,
        n,
        n_in,
        uniform,
        &mut Rng::derive(seed, &[stream::INIT, 0]),
    );
    let w_out = glorot(
        &k.output_connectivity,
        n_out,
        n,
        uniform,
        &mut Rng::derive(seed, &[stream::INIT, 2]),
    );
    let mut rng = Rng::derive(seed, &[stream::INIT, 1]);
    let mut w_rec: Vec<f32> = match config.w_rec_init {
        RecInit::GaussianSpectralRadius => (0..n * n).map(|_| rng.normal() as f32).collect(),
        RecInit::AlphaIdentity => (0..n * n)
            .map(|k| {
                if k % (n + 1) == 0 {
                    config.identity_gain as f32
                } else {
                    0.0
                }
            })
            .collect(),
        RecInit::GlorotGauss => glorot(&k.rec_connectivity, n, n, false, &mut rng),
        RecInit::GlorotUnif => glorot(&k.rec_connectivity, n, n, true, &mut rng),
    };
    if matches!(
        config.w_rec_init,
        RecInit::GaussianSpectralRadius | RecInit::AlphaIdentity
    ) {
        balance_dale_ratio(&mut w_rec, k);
    }
    if config.w_rec_init == RecInit::GaussianSpectralRadius {
        let scaled: Vec<f64> = match config.spectral_radius_of {
            SpectralRadiusOf::Raw => w_rec.iter().map(|&v| v as f64).collect(),
            SpectralRadiusOf::Effective => {
                let (_, eff, _) = k.effective(&w_in, &w_rec, &w_out);
                eff.iter().map(|&v| v as f64).collect()
            }
        };
        let radius = spectral_radius(&scaled, n).unwrap_or(0.0);
        if radius > 0.0 {
            let scale = config.spectral_radius / radius;
            for w in w_rec.iter_mut() {
                *w = (*w as f64 * scale) as f32;
            }
        }
    }
    let mut rng = Rng::derive(seed, &[stream::INIT, 3]);
    RateRnnWeights {
        n_in,
        n_rec: n,
        n_out,
        w_in,
        w_rec,
        w_out,
        b_rec: vec![0.0; n],
        b_out: vec![0.0; n_out],
        init_state: (0..n).map(|_| (0.1 + 0.01 * rng.normal()) as f32).collect(),
        input_connectivity: k.input_connectivity.clone(),
        rec_connectivity: k.rec_connectivity.clone(),
        output_connectivity: k.output_connectivity.clone(),
        dale_ratio: k.dale_ratio,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn radius_of_effective(w: &RateRnnWeights, k: &Constraints) -> f64 {
        let (_, eff, _) = k.effective(&w.w_in, &w.w_rec, &w.w_out);
        spectral_radius(&eff.iter().map(|&v| v as f64).collect::<Vec<_>>(), w.n_rec).unwrap()
    }

    #[test]
    fn effective_spectral_radius_is_what_was_asked_with_and_without_constraints() {
        for (dale, autapses, radius) in [
            (None, true, 1.1),
            (Some(0.8), false, 1.1),
            (Some(0.5), true, 0.9),
        ] {
            let config = ModelConfig {
                n_rec: 60,
                dale_ratio: dale,
                autapses,
                spectral_radius: radius,
                spectral_radius_of: SpectralRadiusOf::Effective,
                ..ModelConfig::default()
            };
            let k = Constraints::from_config(&config, 2, 3).unwrap();
            let w = initial_weights(&config, &k, 5);
            let r = radius_of_effective(&w, &k);
            assert!((r - radius).abs() < 1e-3, "{dale:?}: radius {r}");
            assert_eq!(
                w,
                initial_weights(&config, &k, 5),
                "same seed, same weights"
            );
        }
    }

    /// PsychRNN's `GaussianSpectralRadius` written out with plain loops: W = randn (the same
    /// draws, row-major from the W_rec stream); `balance_dale_ratio`: W ← W · diag(v) / rownorm(C ·
    /// diag(v)) per column; W ← W · ρ / max|eig(W)|.
    fn psychrnn_gaussian_spectral_radius(
        n: usize,
        dale_ratio: f64,
        c: &[f32],
        rho: f64,
        seed: u64,
    ) -> Vec<f64> {
        let mut rng = Rng::derive(seed, &[stream::INIT, 1]);
        let mut w: Vec<f64> = (0..n * n).map(|_| rng.normal() as f32 as f64).collect();
        let n_exc = (dale_ratio * n as f64).round() as usize;
        let v = |j: usize| {
            if j < n_exc {
                1.0
            } else {
                dale_ratio / (1.0 - dale_ratio)
            }
        };
        let mut row_norm = vec![0.0; n];
        for (i, norm) in row_norm.iter_mut().enumerate() {
            let mut s = 0.0;
            for j in 0..n {
                s += (c[i * n + j] as f64 * v(j)).powi(2);
            }
            *norm = f64::sqrt(s);
        }
        for i in 0..n {
            for j in 0..n {
                w[i * n + j] *= v(j) / row_norm[j];
            }
        }
        let radius = spectral_radius(&w, n).unwrap();
        w.iter().map(|x| x * rho / radius).collect()
    }

    #[test]
    fn default_dale_init_is_psychrnns_raw_matrix_scaling() {
        let (n, ratio) = (50, 0.8);
        let config = ModelConfig {
            n_rec: n,
            dale_ratio: Some(ratio),
            autapses: false,
            ..ModelConfig::default()
        };
        assert_eq!(config.spectral_radius_of, SpectralRadiusOf::Raw);
        let k = Constraints::from_config(&config, 2, 3).unwrap();
        let w = initial_weights(&config, &k, 3);
        let expected = psychrnn_gaussian_spectral_radius(n, ratio, &k.rec_connectivity, 1.1, 3);
        for (i, (&got, want)) in w.w_rec.iter().zip(&expected).enumerate() {
            assert!(
                (got as f64 - want).abs() < 1e-5 * (1.0 + want.abs()),
                "W_rec[{i}]: {got} vs PsychRNN's {want}"
            );
        }
        let raw: Vec<f64> = w.w_rec.iter().map(|&v| v as f64).collect();
        assert!((spectral_radius(&raw, n).unwrap() - 1.1).abs() < 1e-4);
        // The network starts from the effective matrix, whose radius is PsychRNN's, not 1.1.
        let mut eff = vec![0.0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                let sign = if j < 40 { 1.0 } else { -1.0 };
                eff[i * n + j] =
                    (expected[i * n + j] * k.rec_connectivity[i * n + j] as f64).abs() * sign;
            }
        }
        let psychrnn_effective = spectral_radius(&eff, n).unwrap();
        let effective = radius_of_effective(&w, &k);
        assert!(
            (effective - psychrnn_effective).abs() < 1e-4,
            "{effective} vs {psychrnn_effective}"
        );
        assert!(
            (effective - 1.1).abs() > 0.05,
            "with Dale the effective radius is not the raw one: {effective}"
        );
    }

    #[test]
    fn without_masks_or_dale_raw_and_effective_scaling_agree() {
        let base = ModelConfig {
            n_rec: 30,
            ..ModelConfig::default()
        };
        let k = Constraints::from_config(&base, 2, 2).unwrap();
        let raw = initial_weights(&base, &k, 1);
        let effective = ModelConfig {
            spectral_radius_of: SpectralRadiusOf::Effective,
            ..base.clone()
        };
        let eff = initial_weights(&effective, &k, 1);
        for (a, b) in raw.w_rec.iter().zip(&eff.w_rec) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn glorot_uses_the_masks_fan_in_and_out() {
        // Row 0 has 2 connections, row 1 has 1; column sums 2 and 1.
        let c = [1.0, 1.0, 1.0, 0.0];
        let mut rng = Rng::from_seed(1);
        let draws: Vec<Vec<f32>> = (0..20_000)
            .map(|_| glorot(&c, 2, 2, false, &mut rng))
            .collect();
        let var = |k: usize| {
            draws.iter().map(|d| (d[k] as f64).powi(2)).sum::<f64>() / draws.len() as f64
        };
        // (0,0): fan 2+2 → var 2/4; (0,1): 2+1 → 2/3; (1,0): 1+2 → 2/3; (1,1): 1+1 → 1.
        for (k, expected) in [(0, 0.5), (1, 2.0 / 3.0), (2, 2.0 / 3.0), (3, 1.0)] {
            assert!(
                (var(k) / expected - 1.0).abs() < 0.05,
                "entry {k}: {} vs {expected}",
                var(k)
            );
        }
        let u: Vec<Vec<f32>> = (0..1000)
            .map(|_| glorot(&c, 2, 2, true, &mut rng))
            .collect();
        let limit = (6.0f64 / 4.0).sqrt() as f32;
        assert!(u.iter().all(|d| d[0].abs() <= limit));
        assert!(u.iter().any(|d| d[0].abs() > 0.9 * limit));
    }

    #[test]
    fn balance_matches_psychrnns_formula_by_hand() {
        let mut k = Constraints::unconstrained(1, 4, 1);
        k.dale_ratio = Some(0.5);
        k.rec_connectivity = vec![1.0; 16];
        // v = [1, 1, 1, 1] (r/(1−r) = 1); each row norm of C·diag(v) = 2 → every column halves.
        let mut w = vec![2.0f32; 16];
        balance_dale_ratio(&mut w, &k);
        assert!(w.iter().all(|&x| x == 1.0), "{w:?}");
        k.dale_ratio = Some(0.75);
        // 3 excitatory (v = 1), 1 inhibitory (v = 3): row norm sqrt(1+1+1+9) = sqrt(12).
        let mut w = vec![1.0f32; 16];
        balance_dale_ratio(&mut w, &k);
        let n = 12f32.sqrt();
        assert!(
            (w[0] - 1.0 / n).abs() < 1e-6 && (w[3] - 3.0 / n).abs() < 1e-6,
            "{w:?}"
        );
    }

    #[test]
    fn alpha_identity_is_a_scaled_identity() {
        let config = ModelConfig {
            n_rec: 3,
            w_rec_init: RecInit::AlphaIdentity,
            identity_gain: 0.5,
            ..ModelConfig::default()
        };
        let k = Constraints::from_config(&config, 1, 1).unwrap();
        let w = initial_weights(&config, &k, 0);
        assert_eq!(w.w_rec, [0.5, 0., 0., 0., 0.5, 0., 0., 0., 0.5]);
    }
}
