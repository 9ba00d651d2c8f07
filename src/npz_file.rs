//! `.npz` archives (numpy's zip of `.npy` arrays): writing through buffers, and reading the
//! arrays psychrnn writes back with their types. candle's `Tensor::write_npz` issues one
//! 4-byte write system call per value: a run's 44 MB `trials.npz` (512 test trials × 200
//! steps × 50 units) took 6.6 s to write that way.
//!
//! Besides numbers, arrays may hold booleans (`|b1`) and fixed-width unicode text (`<U…`), so
//! that `np.load` reads every entry without `allow_pickle`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use candle_core::{DType, Error, Result, Tensor};

const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// Why the bytes of one `.npy` array cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NpyError {
    /// The bytes do not start with the `.npy` magic.
    #[error("not an .npy array")]
    NotNpy,
    /// A format version other than 1, 2 or 3.
    #[error("unsupported .npy version {0}")]
    Version(u8),
    /// The header is cut short or lacks a field; says which.
    #[error("{0}")]
    Header(String),
    /// A dtype or layout this reader does not read; says which.
    #[error("{0}")]
    Unsupported(String),
    /// The data are shorter than the header's shape needs.
    #[error("holds {len} bytes, expected {expected}")]
    Truncated {
        /// Bytes present.
        len: usize,
        /// Bytes the shape and dtype need.
        expected: usize,
    },
    /// A text array holds a code that is not a character.
    #[error("invalid character code {0:#x}")]
    InvalidCharacter(u32),
}

/// Why an `.npz` archive cannot be read; names the file (and the entry).
#[derive(Debug, thiserror::Error)]
pub enum NpzError {
    /// The file cannot be opened.
    #[error("{}: {source}", path.display())]
    Open {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a zip archive.
    #[error("{}: not an .npz (zip) file: {source}", path.display())]
    NotZip {
        /// The file.
        path: std::path::PathBuf,
        /// The zip error.
        source: zip::result::ZipError,
    },
    /// The archive's directory cannot be read.
    #[error("{}: {source}", path.display())]
    Zip {
        /// The file.
        path: std::path::PathBuf,
        /// The zip error.
        source: zip::result::ZipError,
    },
    /// One entry cannot be read or is not an array this reader reads.
    #[error("{}: entry `{entry}`: {source}", path.display())]
    Entry {
        /// The file.
        path: std::path::PathBuf,
        /// The entry's name without `.npy`.
        entry: String,
        /// An I/O error or an [`NpyError`].
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl NpzError {
    /// What is wrong, without the file's name (for messages that name the file themselves).
    pub fn detail(&self) -> String {
        match self {
            NpzError::Open { source, .. } => source.to_string(),
            NpzError::NotZip { source, .. } => format!("not an .npz (zip) file: {source}"),
            NpzError::Zip { source, .. } => source.to_string(),
            NpzError::Entry { entry, source, .. } => format!("entry `{entry}`: {source}"),
        }
    }
}

/// Writes `entries` (name, array) to `path` as an uncompressed `.npz`, each array in `.npy`
/// format 1.0 with the header candle writes (`np.load` reads it).
pub fn write_npz<S: AsRef<str>, T: AsRef<Tensor>>(entries: &[(S, T)], path: &Path) -> Result<()> {
    write_npz_with_npy(entries, &[] as &[(&str, Vec<u8>)], path)
}

/// [`write_npz`] plus entries given as ready `.npy` bytes (e.g. pickled object arrays, or
/// [`npy_bytes`]), written after the tensors.
pub fn write_npz_with_npy<S: AsRef<str>, T: AsRef<Tensor>, N: AsRef<str>>(
    entries: &[(S, T)],
    npy_entries: &[(N, Vec<u8>)],
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
        zip.start_file(format!("{}.npy", name.as_ref()), options)
            .map_err(Error::wrap)?;
        zip.write_all(bytes)?;
    }
    zip.finish().map_err(Error::wrap)?.flush()?;
    Ok(())
}

/// The values of one array for [`write_npz_arrays`]: numbers borrowed from the caller (so a
/// large array is written without a copy) or owned, or ready `.npy` bytes.
#[derive(Debug, Clone)]
pub enum NpyData<'a> {
    /// float32 values in C order.
    F32(std::borrow::Cow<'a, [f32]>),
    /// float64 values in C order.
    F64(std::borrow::Cow<'a, [f64]>),
    /// int64 values in C order.
    I64(std::borrow::Cow<'a, [i64]>),
    /// A whole `.npy` array, header included (e.g. from [`npy_bytes`]).
    Npy(Vec<u8>),
}

/// One named array of an `.npz` archive: its shape and values.
#[derive(Debug, Clone)]
pub struct NpyArray<'a> {
    /// The key (`np.load(path)[name]`), without `.npy`.
    pub name: String,
    /// The shape (empty for a 0-d array); ignored for [`NpyData::Npy`].
    pub dims: Vec<usize>,
    /// The values.
    pub data: NpyData<'a>,
}

/// Writes `values` little-endian through a 64 KiB buffer: no copy of the array is made.
fn write_values<T: Copy, const N: usize>(
    values: &[T],
    to_bytes: impl Fn(T) -> [u8; N],
    out: &mut impl Write,
) -> std::io::Result<()> {
    let mut buffer = Vec::with_capacity(1 << 16);
    for chunk in values.chunks((1 << 16) / N) {
        buffer.clear();
        for &v in chunk {
            buffer.extend_from_slice(&to_bytes(v));
        }
        out.write_all(&buffer)?;
    }
    Ok(())
}

/// Writes `arrays` to `path` as an uncompressed `.npz` in their order, streaming each array's
/// values into the archive (peak memory does not grow with the arrays' size). Says which
/// array's shape disagrees with its number of values.
pub fn write_npz_arrays(arrays: &[NpyArray<'_>], path: &Path) -> Result<()> {
    let mut zip = zip::ZipWriter::new(BufWriter::new(File::create(path)?));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for array in arrays {
        let expected: usize = array.dims.iter().product();
        let len = match &array.data {
            NpyData::F32(v) => Some(v.len()),
            NpyData::F64(v) => Some(v.len()),
            NpyData::I64(v) => Some(v.len()),
            NpyData::Npy(_) => None,
        };
        if let Some(len) = len.filter(|&len| len != expected) {
            candle_core::bail!(
                "npz: array `{}` has {len} values for shape {:?} ({expected} values)",
                array.name,
                array.dims
            );
        }
        zip.start_file(format!("{}.npy", array.name), options)
            .map_err(Error::wrap)?;
        let mut out = BufWriter::with_capacity(1 << 16, &mut zip);
        match &array.data {
            NpyData::F32(v) => {
                write_header("<f4", &array.dims, &mut out)?;
                write_values(v, f32::to_le_bytes, &mut out)?;
            }
            NpyData::F64(v) => {
                write_header("<f8", &array.dims, &mut out)?;
                write_values(v, f64::to_le_bytes, &mut out)?;
            }
            NpyData::I64(v) => {
                write_header("<i8", &array.dims, &mut out)?;
                write_values(v, i64::to_le_bytes, &mut out)?;
            }
            NpyData::Npy(bytes) => out.write_all(bytes)?,
        }
        out.flush()?;
    }
    zip.finish().map_err(Error::wrap)?.flush()?;
    Ok(())
}

/// The `.npy` header: magic, version 1.0, header length, the header dict padded with spaces
/// to a multiple of 16 bytes.
fn write_header(descr: &str, dims: &[usize], out: &mut impl Write) -> std::io::Result<()> {
    let mut shape = dims
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(",");
    if !shape.is_empty() {
        shape.push(',');
    }
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({shape}), }}");
    let pad = 16 - (NPY_MAGIC.len() + 5 + header.len()) % 16;
    header.extend(std::iter::repeat_n(' ', pad % 16));
    header.push('\n');
    out.write_all(NPY_MAGIC)?;
    out.write_all(&[1, 0])?;
    out.write_all(&(header.len() as u16).to_le_bytes())?;
    out.write_all(header.as_bytes())
}

/// One array in `.npy` format 1.0: the header, then the values in C order, little-endian.
pub fn write_npy(tensor: &Tensor, out: &mut impl Write) -> Result<()> {
    let descr = match tensor.dtype() {
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::U8 => "<u1",
        DType::U32 => "<u4",
        DType::I64 => "<i8",
        other => candle_core::bail!(
            "npy: cannot write {other:?} arrays (f32, f64, u8, u32 and i64 are written)"
        ),
    };
    write_header(descr, tensor.dims(), out)?;
    tensor.write_bytes(out)
}

/// Values for [`npy_bytes`] that candle tensors do not hold.
#[derive(Debug, Clone, Copy)]
pub enum NpyValues<'a> {
    /// Booleans, written as numpy's `|b1` (usable as an index mask).
    Bool(&'a [bool]),
    /// Text, written as fixed-width unicode `<U{longest}` (at least `<U1`).
    Text(&'a [String]),
}

/// A value that a `.npy` array cannot hold faithfully.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("text {text:?} holds a NUL character, which numpy's fixed-width text arrays drop")]
pub struct NulInText {
    /// The text.
    pub text: String,
}

/// One array of `values` with shape `dims` as `.npy` bytes (for [`write_npz_with_npy`]).
pub fn npy_bytes(dims: &[usize], values: NpyValues) -> std::result::Result<Vec<u8>, NulInText> {
    let mut out = Vec::new();
    match values {
        NpyValues::Bool(v) => {
            write_header("|b1", dims, &mut out).expect("writing to memory");
            out.extend(v.iter().map(|&b| b as u8));
        }
        NpyValues::Text(v) => {
            if let Some(text) = v.iter().find(|s| s.contains('\0')) {
                return Err(NulInText { text: text.clone() });
            }
            let width = v
                .iter()
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
                .max(1);
            write_header(&format!("<U{width}"), dims, &mut out).expect("writing to memory");
            for s in v {
                let mut n = 0;
                for c in s.chars() {
                    out.extend((c as u32).to_le_bytes());
                    n += 1;
                }
                out.extend(std::iter::repeat_n(0u8, 4 * (width - n)));
            }
        }
    }
    Ok(out)
}

/// The values of one array read by [`read_npz`].
#[derive(Debug, Clone, PartialEq)]
pub enum ArrayValues {
    /// `<f4`.
    F32(Vec<f32>),
    /// `<f8`.
    F64(Vec<f64>),
    /// Integers (`<i8`, `<i4`, `|u1`, `<u4`), widened.
    Int(Vec<i64>),
    /// `|b1`.
    Bool(Vec<bool>),
    /// `<U…`, trailing NULs removed as numpy does.
    Text(Vec<String>),
    /// `|O` (a pickled Python object array): the pickle's bytes, unread.
    Object(Vec<u8>),
}

/// One array read by [`read_npz`]: its shape and values in C order.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// The shape (empty for a 0-d array).
    pub shape: Vec<usize>,
    /// The values.
    pub values: ArrayValues,
}

impl Array {
    /// The values as f32 (numbers only; booleans as 0 and 1).
    pub fn to_f32(&self) -> Option<Vec<f32>> {
        Some(match &self.values {
            ArrayValues::F32(v) => v.clone(),
            ArrayValues::F64(v) => v.iter().map(|&x| x as f32).collect(),
            ArrayValues::Int(v) => v.iter().map(|&x| x as f32).collect(),
            ArrayValues::Bool(v) => v.iter().map(|&x| x as u8 as f32).collect(),
            ArrayValues::Text(_) | ArrayValues::Object(_) => return None,
        })
    }

    /// The values as f64 (numbers only; booleans as 0 and 1).
    pub fn to_f64(&self) -> Option<Vec<f64>> {
        Some(match &self.values {
            ArrayValues::F32(v) => v.iter().map(|&x| x as f64).collect(),
            ArrayValues::F64(v) => v.clone(),
            ArrayValues::Int(v) => v.iter().map(|&x| x as f64).collect(),
            ArrayValues::Bool(v) => v.iter().map(|&x| x as u8 as f64).collect(),
            ArrayValues::Text(_) | ArrayValues::Object(_) => return None,
        })
    }

    /// The values as integers (integer arrays only).
    pub fn to_i64(&self) -> Option<Vec<i64>> {
        match &self.values {
            ArrayValues::Int(v) => Some(v.clone()),
            _ => None,
        }
    }

    /// The values as text (text arrays only).
    pub fn text(&self) -> Option<&[String]> {
        match &self.values {
            ArrayValues::Text(v) => Some(v),
            _ => None,
        }
    }

    /// The array as a CPU tensor of its own float type (f32 or f64, exactly); `None` for other
    /// dtypes.
    pub fn to_tensor(&self) -> Option<Result<Tensor>> {
        let cpu = candle_core::Device::Cpu;
        Some(match &self.values {
            ArrayValues::F32(v) => Tensor::from_slice(v, self.shape.as_slice(), &cpu),
            ArrayValues::F64(v) => Tensor::from_slice(v, self.shape.as_slice(), &cpu),
            _ => return None,
        })
    }

    /// The dtype in words, for error messages.
    pub fn kind(&self) -> &'static str {
        match &self.values {
            ArrayValues::F32(_) | ArrayValues::F64(_) => "float",
            ArrayValues::Int(_) => "integer",
            ArrayValues::Bool(_) => "bool",
            ArrayValues::Text(_) => "text",
            ArrayValues::Object(_) => "object",
        }
    }
}

/// Decodes `count` fixed-width unicode strings of `width` characters (UTF-32LE), dropping
/// trailing NULs as numpy does.
pub fn decode_text(
    data: &[u8],
    width: usize,
    count: usize,
) -> std::result::Result<Vec<String>, NpyError> {
    let need = count
        .checked_mul(width)
        .and_then(|n| n.checked_mul(4))
        .ok_or(NpyError::Unsupported("text array too large".into()))?;
    if data.len() < need {
        return Err(NpyError::Truncated {
            len: data.len(),
            expected: need,
        });
    }
    if width == 0 {
        return Ok(vec![String::new(); count]);
    }
    data[..need]
        .chunks_exact(4 * width)
        .map(|item| {
            let mut s: String = item
                .chunks_exact(4)
                .map(|c| {
                    let code = u32::from_le_bytes(c.try_into().expect("4 bytes"));
                    char::from_u32(code).ok_or(NpyError::InvalidCharacter(code))
                })
                .collect::<std::result::Result<_, _>>()?;
            s.truncate(s.trim_end_matches('\0').len());
            Ok(s)
        })
        .collect()
}

/// The header of one `.npy` array: what every reader of the format needs first.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyHeader {
    /// The dtype, e.g. `<f4`, `|b1`, `<U12`, `|O`.
    pub descr: String,
    /// True for column-major data.
    pub fortran_order: bool,
    /// The shape (empty for a 0-d array).
    pub shape: Vec<usize>,
    /// Where the data begin in the file's bytes.
    pub data_start: usize,
}

/// Parses the header of an `.npy` array (format versions 1–3). Shapes written by Python 2
/// (`3L`) are read too.
pub fn npy_header(bytes: &[u8]) -> std::result::Result<NpyHeader, NpyError> {
    if bytes.len() < 10 || &bytes[..6] != NPY_MAGIC {
        return Err(NpyError::NotNpy);
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(NpyError::Version(v)),
    };
    let header = bytes
        .get(start..start + header_len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or(NpyError::Header("truncated or unreadable header".into()))?;
    let field = |name: &str| -> std::result::Result<&str, NpyError> {
        let at = header
            .find(&format!("'{name}'"))
            .ok_or(NpyError::Header(format!("header has no '{name}'")))?;
        Ok(header[at + name.len() + 2..]
            .trim_start()
            .trim_start_matches(':')
            .trim_start())
    };
    let descr = field("descr")?
        .trim_start_matches('\'')
        .split('\'')
        .next()
        .unwrap_or("")
        .to_string();
    let fortran_order = field("fortran_order")?.starts_with("True");
    let shape_text = field("shape")?;
    let shape_text = &shape_text[1..shape_text
        .find(')')
        .ok_or(NpyError::Header("bad shape".into()))?];
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse()
                .map_err(|_| NpyError::Header(format!("bad shape `{shape_text}`")))
        })
        .collect::<std::result::Result<_, _>>()?;
    Ok(NpyHeader {
        descr,
        fortran_order,
        shape,
        data_start: start + header_len,
    })
}

/// Parses one `.npy` array (format versions 1–3): little-endian floats, integers, booleans and
/// fixed-width text, in C order or (2-D) Fortran order, and pickled object arrays (their bytes,
/// unread). The one decoder of `.npy` data in psychrnn: run files and weights files both use it.
pub fn parse_npy(bytes: &[u8]) -> std::result::Result<Array, NpyError> {
    let NpyHeader {
        descr,
        fortran_order,
        shape,
        data_start,
    } = npy_header(bytes)?;
    let descr = descr.as_str();
    let data = &bytes[data_start..];
    if descr.contains('O') {
        return Ok(Array {
            shape,
            values: ArrayValues::Object(data.to_vec()),
        });
    }
    if fortran_order && shape.len() > 2 {
        return Err(NpyError::Unsupported(
            "Fortran-ordered arrays of more than 2 dimensions are not supported".into(),
        ));
    }
    let count: usize = shape.iter().product();
    if descr.starts_with('>') && !descr.ends_with("1") {
        return Err(NpyError::Unsupported(format!(
            "big-endian arrays (`{descr}`) are not read"
        )));
    }
    let kind = descr.trim_start_matches(['<', '|', '=']);
    let fixed = |width: usize| -> std::result::Result<&[u8], NpyError> {
        data.get(..count * width).ok_or(NpyError::Truncated {
            len: data.len(),
            expected: count * width,
        })
    };
    fn chunks<'a, const W: usize, T>(
        bytes: &'a [u8],
        from: impl Fn([u8; W]) -> T + 'a,
    ) -> impl Iterator<Item = T> + 'a {
        bytes
            .chunks_exact(W)
            .map(move |c| from(c.try_into().expect("chunks of W bytes")))
    }
    let values = match kind {
        "f4" => ArrayValues::F32(chunks(fixed(4)?, f32::from_le_bytes).collect()),
        "f8" => ArrayValues::F64(chunks(fixed(8)?, f64::from_le_bytes).collect()),
        "i8" => ArrayValues::Int(chunks(fixed(8)?, i64::from_le_bytes).collect()),
        "u8" => ArrayValues::Int(
            chunks(fixed(8)?, u64::from_le_bytes)
                .map(|v| {
                    i64::try_from(v).map_err(|_| {
                        NpyError::Unsupported(format!("uint64 value {v} is above 2^63 − 1"))
                    })
                })
                .collect::<std::result::Result<_, _>>()?,
        ),
        "i4" => ArrayValues::Int(chunks(fixed(4)?, |b| i32::from_le_bytes(b) as i64).collect()),
        "u4" => ArrayValues::Int(chunks(fixed(4)?, |b| u32::from_le_bytes(b) as i64).collect()),
        "i2" => ArrayValues::Int(chunks(fixed(2)?, |b| i16::from_le_bytes(b) as i64).collect()),
        "u2" => ArrayValues::Int(chunks(fixed(2)?, |b| u16::from_le_bytes(b) as i64).collect()),
        "i1" => ArrayValues::Int(fixed(1)?.iter().map(|&b| b as i8 as i64).collect()),
        "u1" => ArrayValues::Int(fixed(1)?.iter().map(|&b| b as i64).collect()),
        "b1" => ArrayValues::Bool(fixed(1)?.iter().map(|&b| b != 0).collect()),
        text if text.starts_with('U') => {
            let width: usize = text[1..]
                .parse()
                .map_err(|_| NpyError::Unsupported(format!("bad text dtype `{descr}`")))?;
            ArrayValues::Text(decode_text(data, width, count)?)
        }
        _ => {
            return Err(NpyError::Unsupported(format!(
                "unsupported dtype `{descr}`"
            )))
        }
    };
    let values = if fortran_order && shape.len() == 2 {
        c_order(values, shape[0], shape[1])
    } else {
        values
    };
    Ok(Array { shape, values })
}

/// The values of an `r` × `c` array stored column by column (Fortran order), row by row.
fn c_order(values: ArrayValues, r: usize, c: usize) -> ArrayValues {
    fn transpose<T: Clone>(v: Vec<T>, r: usize, c: usize) -> Vec<T> {
        (0..r * c).map(|k| v[(k % c) * r + k / c].clone()).collect()
    }
    match values {
        ArrayValues::F32(v) => ArrayValues::F32(transpose(v, r, c)),
        ArrayValues::F64(v) => ArrayValues::F64(transpose(v, r, c)),
        ArrayValues::Int(v) => ArrayValues::Int(transpose(v, r, c)),
        ArrayValues::Bool(v) => ArrayValues::Bool(transpose(v, r, c)),
        ArrayValues::Text(v) => ArrayValues::Text(transpose(v, r, c)),
        ArrayValues::Object(v) => ArrayValues::Object(v),
    }
}

/// Every array of an `.npz` written by [`write_npz_with_npy`] (stored or deflate-compressed),
/// by entry name without `.npy`. An error names the file and entry.
pub fn read_npz(path: &Path) -> std::result::Result<BTreeMap<String, Array>, NpzError> {
    read_npz_with(path, parse_npy)
}

/// Every entry of an `.npz` (stored or deflate-compressed, as `np.savez` and
/// `np.savez_compressed` write them), by name without `.npy`, each parsed by `parse`.
pub fn read_npz_with<T>(
    path: &Path,
    parse: impl Fn(&[u8]) -> std::result::Result<T, NpyError>,
) -> std::result::Result<BTreeMap<String, T>, NpzError> {
    let path_buf = || path.to_path_buf();
    let file = File::open(path).map_err(|source| NpzError::Open {
        path: path_buf(),
        source,
    })?;
    let mut zip =
        zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|source| NpzError::NotZip {
            path: path_buf(),
            source,
        })?;
    let zip_fail = |source| NpzError::Zip {
        path: path_buf(),
        source,
    };
    let entry_fail = |entry: &str, source| NpzError::Entry {
        path: path_buf(),
        entry: entry.to_string(),
        source,
    };
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(zip_fail)?;
        let full = entry.name().map_err(zip_fail)?.to_string();
        let name = full.strip_suffix(".npy").unwrap_or(&full).to_string();
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| entry_fail(&name, e.into()))?;
        let array = parse(&bytes).map_err(|e| entry_fail(&name, e.into()))?;
        out.insert(name, array);
    }
    Ok(out)
}

/// An `.npy` file with a hand-written header, as numpy writes it, and raw `data` (for tests of
/// the readers).
#[cfg(test)]
pub(crate) fn npy_for_test(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
        if fortran { "True" } else { "False" }
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = NPY_MAGIC.to_vec();
    out.extend([1u8, 0]);
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn streamed_arrays_read_back_as_written_and_bytes_match_the_tensor_writer() {
        use std::borrow::Cow;
        let dir = std::env::temp_dir().join(format!("psychrnn-npz-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // More values than one 64 KiB write buffer holds, so chunking is exercised.
        let big: Vec<f32> = (0..40_000).map(|i| i as f32 * 0.25 - 7.0).collect();
        let ints: Vec<i64> = vec![-3, 0, 1 << 40];
        let streamed = dir.join("streamed.npz");
        write_npz_arrays(
            &[
                NpyArray {
                    name: "big".into(),
                    dims: vec![200, 200],
                    data: NpyData::F32(Cow::Borrowed(&big)),
                },
                NpyArray {
                    name: "ints".into(),
                    dims: vec![3],
                    data: NpyData::I64(Cow::Borrowed(&ints)),
                },
                NpyArray {
                    name: "x".into(),
                    dims: vec![],
                    data: NpyData::F64(Cow::Owned(vec![2.5])),
                },
            ],
            &streamed,
        )
        .unwrap();
        let back = read_npz(&streamed).unwrap();
        assert_eq!(back["big"].to_f32().unwrap(), big);
        assert_eq!(back["ints"].to_i64().unwrap(), ints);
        assert_eq!(back["x"].to_f64().unwrap(), vec![2.5]);
        // The same bytes as the tensor writer's (np.load-compatible header and layout).
        let via_tensor = dir.join("tensor.npz");
        let t = Tensor::from_slice(&big, (200, 200), &Device::Cpu).unwrap();
        write_npz(&[("big", &t)], &via_tensor).unwrap();
        let entry = |path: &Path| {
            let mut zip = zip::ZipArchive::new(File::open(path).unwrap()).unwrap();
            let mut bytes = Vec::new();
            zip.by_name("big.npy")
                .unwrap()
                .read_to_end(&mut bytes)
                .unwrap();
            bytes
        };
        assert_eq!(entry(&streamed), entry(&via_tensor));
        // A shape that disagrees with the values is refused, naming the array.
        let err = write_npz_arrays(
            &[NpyArray {
                name: "rates".into(),
                dims: vec![2, 3],
                data: NpyData::F32(Cow::Borrowed(&big[..5])),
            }],
            &dir.join("bad.npz"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("array `rates` has 5 values for shape [2, 3] (6 values)"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

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

    #[test]
    fn text_and_bool_arrays_read_back_and_nul_is_refused() {
        let path =
            std::env::temp_dir().join(format!("psychrnn-npz-text-{}.npz", std::process::id()));
        let words: Vec<String> = ["", "a,b", "ü<\"'>", "#x:y"].map(String::from).to_vec();
        let npy = vec![
            (
                "words",
                npy_bytes(&[2, 2], NpyValues::Text(&words)).unwrap(),
            ),
            ("empty", npy_bytes(&[0], NpyValues::Text(&[])).unwrap()),
            (
                "ok",
                npy_bytes(&[3], NpyValues::Bool(&[true, false, true])).unwrap(),
            ),
        ];
        write_npz_with_npy(&arrays(), &npy, &path).unwrap();
        let read = read_npz(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(read["words"].shape, [2, 2]);
        assert_eq!(read["words"].text().unwrap(), words);
        assert_eq!(read["empty"].text().unwrap(), Vec::<String>::new());
        assert_eq!(
            read["ok"].values,
            ArrayValues::Bool(vec![true, false, true])
        );
        assert_eq!(read["dt"].to_f64().unwrap(), [10.0]);
        assert_eq!(read["states"].shape, [2, 3, 5]);
        let nul = vec!["a\0b".to_string()];
        assert!(npy_bytes(&[1], NpyValues::Text(&nul))
            .unwrap_err()
            .to_string()
            .contains("NUL"));
    }

    use super::npy_for_test as npy;

    #[test]
    fn every_dtype_weights_and_run_files_hold_is_decoded_once() {
        let values = |descr: &str, data: &[u8], n: usize| {
            parse_npy(&npy(descr, false, &format!("({n},)"), data))
                .unwrap()
                .values
        };
        assert_eq!(
            values("<i2", &[0xff, 0xff, 2, 0], 2),
            ArrayValues::Int(vec![-1, 2])
        );
        assert_eq!(
            values("<u2", &[0xff, 0xff, 2, 0], 2),
            ArrayValues::Int(vec![65535, 2])
        );
        assert_eq!(values("|i1", &[0xfe, 3], 2), ArrayValues::Int(vec![-2, 3]));
        assert_eq!(
            values("<u8", &7u64.to_le_bytes(), 1),
            ArrayValues::Int(vec![7])
        );
        let too_big = parse_npy(&npy("<u8", false, "(1,)", &u64::MAX.to_le_bytes()));
        assert_eq!(
            too_big.unwrap_err(),
            NpyError::Unsupported(format!("uint64 value {} is above 2^63 − 1", u64::MAX))
        );
        // Fortran order: column-major data for [[1, 2, 3], [4, 5, 6]] come back row by row.
        let col: Vec<u8> = [1i32, 4, 2, 5, 3, 6]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let a = parse_npy(&npy("<i4", true, "(2, 3)", &col)).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.values, ArrayValues::Int(vec![1, 2, 3, 4, 5, 6]));
        let deep = parse_npy(&npy("<f4", true, "(1, 1, 1)", &[0; 4]));
        assert!(matches!(deep, Err(NpyError::Unsupported(m)) if m.contains("more than 2")));
        // A pickled object keeps its bytes for the weights reader; it is not a number.
        let o = parse_npy(&npy("|O", false, "()", b"\x80\x03N.")).unwrap();
        assert_eq!(o.values, ArrayValues::Object(b"\x80\x03N.".to_vec()));
        assert_eq!((o.to_f64(), o.kind()), (None, "object"));
        let big = parse_npy(&npy(">f8", false, "(1,)", &[0; 8]));
        assert_eq!(
            big.unwrap_err(),
            NpyError::Unsupported("big-endian arrays (`>f8`) are not read".into())
        );
    }
}
