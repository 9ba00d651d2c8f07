//! Seeded random streams: fast, portable and identical on every platform and thread count.
//!
//! Every random quantity in a run (initial weights, each trial of each batch, recurrent noise)
//! comes from its own stream, derived from the run seed and a path of integers
//! (`Rng::derive(seed, &[stream, batch, trial])`), so drawing one thing never shifts another.

/// Named stream tags used with [`Rng::derive`].
pub mod stream {
    /// Initial weights.
    pub const INIT: u64 = 1;
    /// Training batches (one sub-stream per iteration, per trial).
    pub const TRAIN: u64 = 2;
    /// Evaluation batches during training.
    pub const EVAL: u64 = 3;
    /// The final test batch.
    pub const TEST: u64 = 4;
    /// Recurrent noise (one sub-stream per iteration).
    pub const REC_NOISE: u64 = 5;
    /// Trials and noise of `psychrnn simulate`.
    pub const SIMULATE: u64 = 6;
}

/// xoshiro256++ generator with Box-Muller normals.
#[derive(Debug, Clone, PartialEq)]
pub struct Rng {
    s: [u64; 4],
    spare_normal: Option<u64>,
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator seeded from one integer.
    pub fn from_seed(seed: u64) -> Self {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Rng {
            s,
            spare_normal: None,
        }
    }

    /// The stream identified by `seed` and a path of integers, e.g. `[stream::TRAIN, batch, trial]`.
    ///
    /// ```
    /// use psychrnn::random::{stream, Rng};
    /// // The same seed and path give the same stream; another path another one.
    /// let mut a = Rng::derive(7, &[stream::TRAIN, 0, 3]);
    /// let mut b = Rng::derive(7, &[stream::TRAIN, 0, 3]);
    /// let mut c = Rng::derive(7, &[stream::TRAIN, 0, 4]);
    /// let (x, y, z) = (a.uniform(), b.uniform(), c.uniform());
    /// assert_eq!(x, y);
    /// assert_ne!(x, z);
    /// assert!((0.0..1.0).contains(&x));
    /// ```
    pub fn derive(seed: u64, path: &[u64]) -> Self {
        let mut h = seed ^ 0x5851_F42D_4C95_7F2D;
        let mut state = splitmix64(&mut h);
        for &p in path {
            let mut x = state ^ p.wrapping_mul(0xD6E8_FEB8_6659_FD93);
            state = splitmix64(&mut x);
        }
        Rng::from_seed(state)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform on [0, 1) with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform on [lo, hi).
    pub fn uniform_range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// A uniformly drawn integer in `0..n` (unbiased); `n` must be positive.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        // Lemire's multiply-shift with rejection.
        loop {
            let x = self.next_u64();
            let m = (x as u128) * (n as u128);
            let low = m as u64;
            if low >= n.wrapping_neg() % n {
                return (m >> 64) as u64;
            }
        }
    }

    /// A standard normal draw (Box-Muller; the second value of each pair is kept for the next call).
    pub fn normal(&mut self) -> f64 {
        if let Some(bits) = self.spare_normal.take() {
            return f64::from_bits(bits);
        }
        let u1 = 1.0 - self.uniform(); // (0, 1]: ln is finite
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = std::f64::consts::TAU * u2;
        self.spare_normal = Some((r * theta.sin()).to_bits());
        r * theta.cos()
    }

    /// Fills `out` with independent N(0, std²) draws.
    pub fn fill_normal_f32(&mut self, out: &mut [f32], std: f32) {
        for v in out.iter_mut() {
            *v = self.normal() as f32 * std;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_paths_differ() {
        let a: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::derive(7, &[1, 2]);
                move |_| r.next_u64()
            })
            .collect();
        let mut r = Rng::derive(7, &[1, 2]);
        let b: Vec<u64> = (0..5).map(|_| r.next_u64()).collect();
        assert_eq!(a, b);
        let mut other = Rng::derive(7, &[1, 3]);
        assert_ne!(a[0], other.next_u64());
        let mut swapped = Rng::derive(7, &[2, 1]);
        assert_ne!(a[0], swapped.next_u64());
    }

    #[test]
    fn uniform_and_normal_moments() {
        let mut r = Rng::from_seed(3);
        let n = 200_000;
        let (mut s, mut s2) = (0.0, 0.0);
        for _ in 0..n {
            let u = r.uniform();
            assert!((0.0..1.0).contains(&u));
            s += u;
        }
        assert!((s / n as f64 - 0.5).abs() < 0.005);
        s = 0.0;
        for _ in 0..n {
            let z = r.normal();
            s += z;
            s2 += z * z;
        }
        let mean = s / n as f64;
        let var = s2 / n as f64 - mean * mean;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "var {var}");
    }

    #[test]
    fn below_is_uniform_over_its_range() {
        let mut r = Rng::from_seed(11);
        let mut counts = [0usize; 3];
        for _ in 0..30_000 {
            counts[r.below(3) as usize] += 1;
        }
        for c in counts {
            assert!((9_500..10_500).contains(&c), "{counts:?}");
        }
    }
}
