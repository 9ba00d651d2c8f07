//! Writing `.npz` archives (numpy's zip of `.npy` arrays) through buffers. candle's
//! `Tensor::write_npz` issues one 4-byte write system call per value: a run's 44 MB
//! `trials.npz` (512 test trials × 200 steps × 50 units) took 6.6 s to write that way.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use candle_core::{DType, Error, Result, Tensor};

const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// Writes `entries` (name, array) to `path` as an uncompressed `.npz`, each array in `.npy`
/// format 1.0 with the header candle writes (`np.load` reads it).
pub fn write_npz<S: AsRef<str>, T: AsRef<Tensor>>(entries: &[(S, T)], path: &Path) -> Result<()> {
    write_npz_with_npy(entries, &[], path)
}

/// [`write_npz`] plus entries given as ready `.npy` bytes (e.g. pickled object arrays), written
/// after the tensors.
pub fn write_npz_with_npy<S: AsRef<str>, T: AsRef<Tensor>>(
    entries: &[(S, T)],
    npy_entries: &[(&str, Vec<u8>)],
    path: &Path,
) -> Result<()> {
    let mut zip = zip::ZipWriter::new(BufWriter::new(File::create(path)?));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, tensor) in entries {
        zip.start_file(format!("{}.npy", name.as_ref()), options)
            .map_err(Error::wrap)?;
        let mut out = BufWriter::with_capacity(1 << 16, &mut zip);
        write_npy(tensor.as_ref(), &mut out)?;
        out.flush()?;
    }
    for (name, bytes) in npy_entries {
        zip.start_file(format!("{name}.npy"), options)
            .map_err(Error::wrap)?;
        zip.write_all(bytes)?;
    }
    zip.finish().map_err(Error::wrap)?.flush()?;
    Ok(())
}

/// One array in `.npy` format 1.0: magic, version, header length, the header dict padded with
/// spaces to a multiple of 16 bytes, then the values in C order, little-endian.
pub fn write_npy(tensor: &Tensor, out: &mut impl Write) -> Result<()> {
    let descr = match tensor.dtype() {
        DType::F32 => "f4",
        DType::F64 => "f8",
        DType::U8 => "u1",
        DType::U32 => "u4",
        DType::I64 => "i8",
        other => candle_core::bail!(
            "npy: cannot write {other:?} arrays (f32, f64, u8, u32 and i64 are written)"
        ),
    };
    let mut shape = tensor
        .dims()
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(",");
    if !shape.is_empty() {
        shape.push(',');
    }
    let mut header =
        format!("{{'descr': '<{descr}', 'fortran_order': False, 'shape': ({shape}), }}");
    let pad = 16 - (NPY_MAGIC.len() + 5 + header.len()) % 16;
    header.extend(std::iter::repeat_n(' ', pad % 16));
    header.push('\n');
    out.write_all(NPY_MAGIC)?;
    out.write_all(&[1, 0])?;
    out.write_all(&(header.len() as u16).to_le_bytes())?;
    out.write_all(header.as_bytes())?;
    tensor.write_bytes(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn arrays() -> Vec<(&'static str, Tensor)> {
        let cpu = Device::Cpu;
        let values: Vec<f32> = (0..2 * 3 * 5).map(|i| i as f32 * 0.37 - 4.0).collect();
        vec![
            ("states", Tensor::from_vec(values, (2, 3, 5), &cpu).unwrap()),
            ("dt", Tensor::new(10.0f64, &cpu).unwrap()),
            (
                "correct",
                Tensor::from_vec(vec![1.0f64, 0.0, 1.0], 3, &cpu).unwrap(),
            ),
        ]
    }

    #[test]
    fn arrays_are_the_bytes_candle_writes() {
        let dir = std::env::temp_dir().join(format!("psychrnn-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, t) in arrays() {
            let path = dir.join(format!("{name}.npy"));
            t.write_npy(&path).unwrap();
            let mut ours = Vec::new();
            write_npy(&t, &mut ours).unwrap();
            assert_eq!(ours, std::fs::read(&path).unwrap(), "{name}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn archives_read_back_with_candle() {
        let path = std::env::temp_dir().join(format!("psychrnn-npz-{}.npz", std::process::id()));
        let written = arrays();
        write_npz(&written, &path).unwrap();
        let read = Tensor::read_npz(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(read.len(), written.len());
        for (name, t) in &written {
            let (_, back) = read.iter().find(|(n, _)| n == name).expect(name);
            assert_eq!(back.dims(), t.dims(), "{name}");
            assert_eq!(back.dtype(), t.dtype(), "{name}");
            let a = t.to_dtype(DType::F64).unwrap().flatten_all().unwrap();
            let b = back.to_dtype(DType::F64).unwrap().flatten_all().unwrap();
            assert_eq!(a.to_vec1::<f64>().unwrap(), b.to_vec1::<f64>().unwrap());
        }
    }
}
