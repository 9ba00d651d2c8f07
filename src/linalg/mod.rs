//! Small dense linear algebra the models and analyses need (no BLAS/LAPACK dependency).

pub mod eigen;

pub use eigen::{eigenvalues, spectral_radius, EigenError};
