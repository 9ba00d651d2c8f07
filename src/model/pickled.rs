//! PsychRNN's pickled entries: the 0-d object arrays `np.savez` writes for `dale_ratio` (a
//! float or `None`) and `transfer_function` (a reference to a Python function).
//!
//! Reading runs the pickle's opcodes on a small model of the unpickler's stack and memo that
//! only records what values are (never imports or calls anything), then takes the one element
//! of the array. Writing emits the pickle numpy itself would write for a 0-d object array that
//! holds a module-level function, so `np.load(path, allow_pickle=True)` returns that function.

use std::collections::HashMap;

/// The single object a 0-d numpy object array holds, as far as psychrnn reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum PickledObject {
    /// Python's `None`.
    None,
    /// A float or an integer.
    Number(f64),
    /// A module-level function or class, e.g. `tensorflow.python.ops.gen_nn_ops.relu`.
    Function {
        /// Its module.
        module: String,
        /// Its (possibly dotted) name in the module.
        name: String,
    },
    /// Anything else (or an array of more than one element), described.
    Other(String),
}

/// A value on the model stack.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Mark,
    None,
    Number(f64),
    Text(String),
    Global(String, String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    /// The result of calling `callable` (REDUCE), with the state BUILD gave it.
    Object {
        callable: Box<Value>,
        state: Option<Box<Value>>,
    },
    Other,
}

/// Why a pickle cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PickleError {
    /// The opcodes do not make a value (the pickle ends early, pops an empty stack, …).
    #[error("{0}")]
    Malformed(&'static str),
    /// An opcode this reader does not run.
    #[error("unsupported pickle opcode 0x{0:02x}")]
    UnsupportedOpcode(u8),
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(PickleError::Malformed("the pickle ends early"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }
    fn le(&mut self, n: usize) -> Result<u64, PickleError> {
        let b = self.take(n)?;
        Ok(b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | x as u64))
    }
    fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.bytes[self.at..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(PickleError::Malformed("the pickle ends inside a text line"))?;
        self.at += end + 1;
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    }
    fn text(&mut self, len_bytes: usize) -> Result<String, PickleError> {
        let n = self.le(len_bytes)? as usize;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
}

fn pop(stack: &mut Vec<Value>) -> Result<Value, PickleError> {
    stack
        .pop()
        .ok_or(PickleError::Malformed("the pickle pops an empty stack"))
}

fn pop_to_mark(stack: &mut Vec<Value>) -> Result<Vec<Value>, PickleError> {
    let mark = stack
        .iter()
        .rposition(|v| *v == Value::Mark)
        .ok_or(PickleError::Malformed("the pickle has no MARK to pop to"))?;
    let items = stack.split_off(mark + 1);
    stack.pop();
    Ok(items)
}

/// Runs the opcodes of `bytes` (pickle protocols 0–5) and returns the value at STOP.
fn evaluate(bytes: &[u8]) -> Result<Value, PickleError> {
    let mut r = Reader { bytes, at: 0 };
    let mut stack: Vec<Value> = Vec::new();
    let mut memo: HashMap<u64, Value> = HashMap::new();
    loop {
        let op = r.u8()?;
        match op {
            b'.' => return pop(&mut stack),
            0x80 => {
                r.u8()?;
            }
            0x95 => {
                r.le(8)?;
            }
            b'(' => stack.push(Value::Mark),
            b'N' => stack.push(Value::None),
            0x88 | 0x89 => stack.push(Value::Other),
            b'K' => stack.push(Value::Number(r.le(1)? as f64)),
            b'M' => stack.push(Value::Number(r.le(2)? as f64)),
            b'J' => stack.push(Value::Number(r.le(4)? as u32 as i32 as f64)),
            b'G' => {
                let b: [u8; 8] = r.take(8)?.try_into().expect("8 bytes");
                stack.push(Value::Number(f64::from_be_bytes(b)));
            }
            b'I' | b'L' | b'F' => {
                let line = r.line()?;
                let line = line.trim_end_matches('L');
                stack.push(line.parse::<f64>().map_or(Value::Other, Value::Number));
            }
            0x8a => {
                let n = r.le(1)? as usize;
                r.take(n)?;
                stack.push(Value::Other);
            }
            0x8b => {
                let n = r.le(4)? as usize;
                r.take(n)?;
                stack.push(Value::Other);
            }
            0x8c | b'U' => stack.push(Value::Text(r.text(1)?)),
            b'X' | b'T' => stack.push(Value::Text(r.text(4)?)),
            0x8d => stack.push(Value::Text(r.text(8)?)),
            b'V' | b'S' => stack.push(Value::Text(r.line()?)),
            b'C' => {
                r.text(1)?;
                stack.push(Value::Other);
            }
            b'B' => {
                r.text(4)?;
                stack.push(Value::Other);
            }
            0x8e | 0x96 => {
                r.text(8)?;
                stack.push(Value::Other);
            }
            b')' => stack.push(Value::Tuple(Vec::new())),
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if stack.len() < n {
                    return Err(PickleError::Malformed(
                        "the pickle builds a tuple from an empty stack",
                    ));
                }
                let items = stack.split_off(stack.len() - n);
                stack.push(Value::Tuple(items));
            }
            b't' => {
                let items = pop_to_mark(&mut stack)?;
                stack.push(Value::Tuple(items));
            }
            b']' => stack.push(Value::List(Vec::new())),
            b'l' => {
                let items = pop_to_mark(&mut stack)?;
                stack.push(Value::List(items));
            }
            b'a' => {
                let item = pop(&mut stack)?;
                if let Some(Value::List(list)) = stack.last_mut() {
                    list.push(item);
                }
            }
            b'e' => {
                let items = pop_to_mark(&mut stack)?;
                if let Some(Value::List(list)) = stack.last_mut() {
                    list.extend(items);
                }
            }
            b'}' | 0x8f => stack.push(Value::Other),
            b'd' | 0x91 | b'o' => {
                pop_to_mark(&mut stack)?;
                stack.push(Value::Other);
            }
            b's' => {
                pop(&mut stack)?;
                pop(&mut stack)?;
            }
            b'u' | 0x90 => {
                pop_to_mark(&mut stack)?;
            }
            b'c' => {
                let module = r.line()?;
                let name = r.line()?;
                stack.push(Value::Global(module, name));
            }
            b'i' => {
                r.line()?;
                r.line()?;
                pop_to_mark(&mut stack)?;
                stack.push(Value::Other);
            }
            0x93 => {
                let name = pop(&mut stack)?;
                let module = pop(&mut stack)?;
                match (module, name) {
                    (Value::Text(m), Value::Text(n)) => stack.push(Value::Global(m, n)),
                    _ => {
                        return Err(PickleError::Malformed(
                            "STACK_GLOBAL without a module and a name",
                        ))
                    }
                }
            }
            b'R' => {
                pop(&mut stack)?;
                let callable = pop(&mut stack)?;
                stack.push(Value::Object {
                    callable: Box::new(callable),
                    state: None,
                });
            }
            0x81 => {
                pop(&mut stack)?;
                pop(&mut stack)?;
                stack.push(Value::Other);
            }
            0x92 => {
                for _ in 0..3 {
                    pop(&mut stack)?;
                }
                stack.push(Value::Other);
            }
            b'b' => {
                let state = pop(&mut stack)?;
                if let Some(Value::Object { state: s, .. }) = stack.last_mut() {
                    *s = Some(Box::new(state));
                }
            }
            b'0' => {
                pop(&mut stack)?;
            }
            b'1' => {
                pop_to_mark(&mut stack)?;
            }
            b'2' => {
                let top = stack
                    .last()
                    .cloned()
                    .ok_or(PickleError::Malformed("DUP on an empty stack"))?;
                stack.push(top);
            }
            b'p' | b'q' | b'r' | 0x94 => {
                let key = match op {
                    b'p' => r
                        .line()?
                        .parse::<u64>()
                        .map_err(|_| PickleError::Malformed("bad PUT index"))?,
                    b'q' => r.le(1)?,
                    b'r' => r.le(4)?,
                    _ => memo.len() as u64,
                };
                let top = stack
                    .last()
                    .cloned()
                    .ok_or(PickleError::Malformed("PUT on an empty stack"))?;
                memo.insert(key, top);
            }
            b'g' | b'h' | b'j' => {
                let key = match op {
                    b'g' => r
                        .line()?
                        .parse::<u64>()
                        .map_err(|_| PickleError::Malformed("bad GET index"))?,
                    b'h' => r.le(1)?,
                    _ => r.le(4)?,
                };
                let value = memo
                    .get(&key)
                    .cloned()
                    .ok_or(PickleError::Malformed("GET of an unset memo"))?;
                stack.push(value);
            }
            other => return Err(PickleError::UnsupportedOpcode(other)),
        }
    }
}

/// The object a pickled 0-d numpy object array holds (the payload of an `.npy` entry with
/// `descr '|O'`).
pub fn read_pickled_object(bytes: &[u8]) -> Result<PickledObject, PickleError> {
    let value = evaluate(bytes)?;
    // numpy pickles an array as _reconstruct(ndarray, (0,), b'b') with the state
    // (version, shape, dtype, fortran_order, [elements]).
    let Value::Object {
        state: Some(state), ..
    } = value
    else {
        return Ok(PickledObject::Other("not a numpy array".into()));
    };
    let Value::Tuple(parts) = *state else {
        return Ok(PickledObject::Other("an array without a state".into()));
    };
    let Some(Value::List(elements)) = parts.last() else {
        return Ok(PickledObject::Other("an array without elements".into()));
    };
    Ok(match elements.as_slice() {
        [Value::None] => PickledObject::None,
        [Value::Number(x)] => PickledObject::Number(*x),
        [Value::Global(module, name)] => PickledObject::Function {
            module: module.clone(),
            name: name.clone(),
        },
        [_] => PickledObject::Other("an object psychrnn does not read".into()),
        many => PickledObject::Other(format!("an array of {} objects", many.len())),
    })
}

/// The `.npy` bytes of a 0-d object array holding the function `module.name` (a dotted name
/// is looked up attribute by attribute, as pickle protocol 4 does), exactly as numpy writes it
/// with the array reconstructed through `numpy.core.multiarray._reconstruct`, which numpy 1
/// and numpy 2 both load.
pub fn pickled_function_npy(module: &str, name: &str) -> Vec<u8> {
    let mut p: Vec<u8> = vec![0x80, 4];
    p.extend(b"cnumpy.core.multiarray\n_reconstruct\n");
    p.extend(b"cnumpy\nndarray\n");
    p.extend(b"K\x00\x85C\x01b\x87R");
    // state: (1, (), dtype('O8', False, True) with its own state, False, [function])
    p.extend(b"(K\x01)cnumpy\ndtype\n\x8c\x02O8\x89\x88\x87R");
    p.extend(b"(K\x03\x8c\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb");
    p.extend(b"\x89]");
    p.extend(format!("c{module}\n{name}\n").as_bytes());
    p.extend(b"atb.");
    npy_object(&p)
}

/// The `.npy` bytes of a 0-d object array holding `None`.
pub fn pickled_none_npy() -> Vec<u8> {
    let mut p: Vec<u8> = vec![0x80, 4];
    p.extend(b"cnumpy.core.multiarray\n_reconstruct\n");
    p.extend(b"cnumpy\nndarray\n");
    p.extend(b"K\x00\x85C\x01b\x87R");
    p.extend(b"(K\x01)cnumpy\ndtype\n\x8c\x02O8\x89\x88\x87R");
    p.extend(b"(K\x03\x8c\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb");
    p.extend(b"\x89]Natb.");
    npy_object(&p)
}

/// An `.npy` file (format 1.0) of a 0-d object array with pickle payload `pickle`.
fn npy_object(pickle: &[u8]) -> Vec<u8> {
    let mut header = "{'descr': '|O', 'fortran_order': False, 'shape': (), }".to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(pickle);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(npy: &[u8]) -> &[u8] {
        let len = u16::from_le_bytes([npy[8], npy[9]]) as usize;
        &npy[10 + len..]
    }

    #[test]
    fn written_entries_read_back() {
        let f = pickled_function_npy("tensorflow", "nn.tanh");
        assert_eq!(
            read_pickled_object(payload(&f)).unwrap(),
            PickledObject::Function {
                module: "tensorflow".into(),
                name: "nn.tanh".into()
            }
        );
        assert_eq!(
            read_pickled_object(payload(&pickled_none_npy())).unwrap(),
            PickledObject::None
        );
    }

    #[test]
    fn numpy_2_pickles_with_memo_and_stack_globals_read() {
        // The `dale_ratio` entry numpy 2.4 writes for np.array(0.8, dtype=object).
        let p = b"\x80\x04\x95\x8f\x00\x00\x00\x00\x00\x00\x00\x8c\x16numpy._core.multiarray\x94\x8c\x0c_reconstruct\x94\x93\x94\x8c\x05numpy\x94\x8c\x07ndarray\x94\x93\x94K\x00\x85\x94C\x01b\x94\x87\x94R\x94(K\x01)h\x03\x8c\x05dtype\x94\x93\x94\x8c\x02O8\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01|\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?t\x94b\x89]\x94G?\xe9\x99\x99\x99\x99\x99\x9aat\x94b.";
        assert_eq!(read_pickled_object(p).unwrap(), PickledObject::Number(0.8));
        assert!(read_pickled_object(b"\x80\x04").is_err(), "truncated");
        assert!(read_pickled_object(b"\xff").is_err(), "unknown opcode");
    }
}
