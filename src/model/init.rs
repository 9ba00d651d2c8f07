//! PsychRNN's default initialisation (`GaussianSpectralRadius` with Glorot-Gaussian W_in, W_out).

use crate::linalg::spectral_radius;
use crate::random::{stream, Rng};

use super::RateRnnWeights;

/// The initial weights PsychRNN's `Basic` model gets by default, drawn from `seed`:
/// - W_rec ~ N(0, 1), rescaled so its spectral radius (largest |eigenvalue|) is `spec_rad`;
/// - W_in, W_out: Glorot Gaussian, entry (i, j) ~ N(0, sqrt(2 / (fan_in_i + fan_out_j))) with
///   fan-in = row sum and fan-out = column sum of the (all-ones) connectivity mask;
/// - b_rec = b_out = 0; init_state = 0.1 + 0.01·N(0, 1); all connectivity masks = 1.
///
/// Each matrix has its own random stream, so changing one size does not change the others' draws.
pub fn psychrnn_initial_weights(
    n_in: usize,
    n_rec: usize,
    n_out: usize,
    spec_rad: f64,
    seed: u64,
) -> RateRnnWeights {
    let glorot = |rows: usize, cols: usize, k: u64| {
        let mut rng = Rng::derive(seed, &[stream::INIT, k]);
        // With an all-ones mask every row sums to `cols` and every column to `rows`.
        let std = (2.0 / (cols + rows) as f64).sqrt();
        (0..rows * cols)
            .map(|_| (rng.normal() * std) as f32)
            .collect::<Vec<f32>>()
    };
    let w_in = glorot(n_rec, n_in, 0);
    let w_out = glorot(n_out, n_rec, 2);
    let mut rng = Rng::derive(seed, &[stream::INIT, 1]);
    let raw: Vec<f64> = (0..n_rec * n_rec).map(|_| rng.normal()).collect();
    let radius = spectral_radius(&raw, n_rec).unwrap_or(0.0);
    let scale = if radius > 0.0 { spec_rad / radius } else { 0.0 };
    let w_rec = raw.iter().map(|&w| (w * scale) as f32).collect();
    let mut rng = Rng::derive(seed, &[stream::INIT, 3]);
    let init_state = (0..n_rec)
        .map(|_| (0.1 + 0.01 * rng.normal()) as f32)
        .collect();
    RateRnnWeights {
        n_in,
        n_rec,
        n_out,
        w_in,
        w_rec,
        w_out,
        b_rec: vec![0.0; n_rec],
        b_out: vec![0.0; n_out],
        init_state,
        input_connectivity: vec![1.0; n_rec * n_in],
        rec_connectivity: vec![1.0; n_rec * n_rec],
        output_connectivity: vec![1.0; n_out * n_rec],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spectral_radius_and_glorot_scale_are_as_asked() {
        let w = psychrnn_initial_weights(2, 60, 3, 1.1, 5);
        let w_rec: Vec<f64> = w.w_rec.iter().map(|&x| x as f64).collect();
        let r = spectral_radius(&w_rec, 60).unwrap();
        assert!((r - 1.1).abs() < 1e-3, "radius {r}");
        let var = w.w_in.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / w.w_in.len() as f64;
        // 2 / (2 + 60) expected; 120 draws give a loose check only.
        assert!((var / (2.0 / 62.0) - 1.0).abs() < 0.35, "var {var}");
        assert!(w.init_state.iter().all(|&x| (x - 0.1).abs() < 0.06));
        let again = psychrnn_initial_weights(2, 60, 3, 1.1, 5);
        assert_eq!(w, again);
    }
}
