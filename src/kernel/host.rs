//! Host arrays in and out of candle: the f32 slice behind an op's storage, a tensor's values,
//! a gradient tensor from host values, and a row-major transpose.

use candle_core::{CpuStorage, DType, Layout, Result, Storage, Tensor};

/// The f32 values of an op argument `s` with layout `l` (contiguous, f32), named `what` in
/// the error.
pub(super) fn slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        candle_core::bail!("rate-recurrence: {what} must be f32");
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => candle_core::bail!("rate-recurrence: {what} must be contiguous"),
    }
}

/// The first `cols` columns of the `rows` × `stride` row-major matrix `m`, transposed:
/// `cols` × `rows`, row-major.
pub(super) fn transpose(m: &[f32], rows: usize, cols: usize, stride: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; cols * rows];
    for j in 0..rows {
        for k in 0..cols {
            out[k * rows + j] = m[j * stride + k];
        }
    }
    out
}

/// A gradient with `like`'s shape, device and dtype from host values.
pub(super) fn grad_like(data: Vec<f32>, like: &Tensor) -> Result<Option<Tensor>> {
    Ok(Some(
        Tensor::from_vec(data, like.shape(), like.device())?.to_dtype(like.dtype())?,
    ))
}

/// Calls `f` with the f32 elements of `x` in row-major order: borrowed in place when `x` is a
/// contiguous f32 CPU tensor, copied otherwise.
pub(super) fn with_host<R>(x: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    {
        let (storage, layout) = x.storage_and_layout();
        if let (Storage::Cpu(CpuStorage::F32(v)), Some((a, b))) =
            (&*storage, layout.contiguous_offsets())
        {
            return f(&v[a..b]);
        }
    }
    let copy = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    f(&copy)
}
