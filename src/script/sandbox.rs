//! The sandbox's limits: how much work and memory one script evaluation or one host-called
//! closure (`task.params`, `task.trial`, `task.step`, a curriculum rule) may use.
//!
//! Every limit counts something the script does (operations, calls, bytes, allocations), never
//! time, so a script behaves the same on every machine. Rhai's own data-size limits are off:
//! they re-measure a whole value after each change to it (growing an array to n elements costs
//! n²/2 element visits: 0.4 s at 16 Ki elements, 12 s at 128 Ki) and they miss values stored by
//! index into a map. Memory is bounded instead by counting what the call's thread allocates
//! ([`crate::memory::alloc_meter`]), checked before every operation, and the few built-in functions
//! that allocate a size given as a number (`blob(n)`, `pad(n, …)`) are replaced by versions
//! that check the size first.

use std::cell::Cell;

use rhai::{Array, Blob, Dynamic, Engine, EvalAltResult, FuncRegistration, ImmutableString, INT};

use crate::memory::alloc_meter::{Mark, Usage};

/// Operations one script evaluation or one callback may run before it is stopped
/// (about 0.3 s of script work here).
pub const MAX_OPERATIONS: u64 = 5_000_000;

/// Function calls one call may nest (deeper recursion is stopped).
pub const MAX_CALL_LEVELS: usize = 64;

/// Bytes one call may hold allocated at once.
pub const MAX_LIVE_BYTES: u64 = 128 << 20;

/// Bytes one call may allocate in all (freed or not): bounds loops that copy a large or deeply
/// nested value over and over, which cost far more than their operation count says.
pub const MAX_ALLOCATED_BYTES: u64 = 256 << 20;

/// Allocations one call may make: bounds loops that copy a deeply nested value (one allocation
/// per level, so time grows with the square of the depth).
pub const MAX_ALLOCATIONS: u64 = 500_000;

/// The message a stopped script gets, as the token of Rhai's `ErrorTerminated`.
fn exceeded(usage: &Usage) -> Option<String> {
    if usage.live_bytes > MAX_LIVE_BYTES {
        return Some(format!(
            "memory limit: a script call may hold at most {} MiB (is a loop growing an array, string, map or blob without end?)",
            MAX_LIVE_BYTES >> 20
        ));
    }
    if usage.allocated_bytes > MAX_ALLOCATED_BYTES {
        return Some(format!(
            "allocation limit: a script call may allocate at most {} MiB in all (is a loop copying a large value over and over?)",
            MAX_ALLOCATED_BYTES >> 20
        ));
    }
    if usage.allocations > MAX_ALLOCATIONS {
        return Some(format!(
            "allocation limit: a script call may allocate at most {MAX_ALLOCATIONS} times (is a loop nesting a value ever deeper, or copying a large one over and over?)"
        ));
    }
    None
}

thread_local! {
    /// The operation count last seen on this thread and the allocation counters when the
    /// evaluation it belongs to started. Rhai counts operations from 1 in every evaluation
    /// and every host call of a closure (and may report one count twice), so a count smaller
    /// than the last starts a new budget; [`start_call`] starts one explicitly.
    static CALL: Cell<(u64, Option<Mark>)> = const { Cell::new((0, None)) };
}

/// Starts a new budget on this thread: the host calls it before each closure call, so what
/// the host allocated in between never counts against a script.
pub fn start_call() {
    CALL.set((0, None));
}

/// The progress callback: before each operation, checks the call's memory against the limits.
fn on_progress(operations: u64) -> Option<Dynamic> {
    let (last, mark) = CALL.get();
    let mark = match mark {
        Some(m) if operations >= last => m,
        _ => Mark::now(),
    };
    CALL.set((operations, Some(mark)));
    exceeded(&mark.usage()).map(Dynamic::from)
}

/// A size a built-in would allocate in one step, refused before it is allocated.
fn too_large(what: &str, bytes: u64) -> Result<(), Box<EvalAltResult>> {
    if bytes > MAX_LIVE_BYTES {
        // As the limits checked before each operation do, so messages treat both alike.
        let message = format!(
            "memory limit: {what} is too large: it would need {} MiB; a script call may hold at most {} MiB",
            bytes >> 20,
            MAX_LIVE_BYTES >> 20
        );
        return Err(EvalAltResult::ErrorTerminated(message.into(), rhai::Position::NONE).into());
    }
    Ok(())
}

/// A lower bound of the heap bytes a copy of `v` takes, walking at most `budget` values.
fn heap_bytes(v: &Dynamic, budget: &mut usize) -> u64 {
    if *budget == 0 {
        return 0;
    }
    *budget -= 1;
    let slot = std::mem::size_of::<Dynamic>() as u64;
    if let Some(a) = v.read_lock::<Array>() {
        return a.iter().map(|x| slot + heap_bytes(x, budget)).sum();
    }
    if let Some(m) = v.read_lock::<rhai::Map>() {
        return m.values().map(|x| slot + heap_bytes(x, budget)).sum();
    }
    if let Some(b) = v.read_lock::<Blob>() {
        return b.len() as u64;
    }
    0
}

/// Replaces the built-ins that allocate a size given as a number with checked versions
/// (same behaviour otherwise), each with its doc comment (`psychrnn doc` lists them with the
/// other built-ins; every example is evaluated by the tests in `docs.rs`).
fn register_sized_builtins(engine: &mut Engine) {
    type Fallible<T> = Result<T, Box<EvalAltResult>>;
    fn blob_filled(len: INT, value: INT) -> Fallible<Blob> {
        let len = usize::try_from(len).unwrap_or(0);
        too_large(&format!("blob({len})"), len as u64)?;
        Ok(vec![(value & 0xff) as u8; len])
    }
    FuncRegistration::new("blob")
        .with_comments([
            "/// A blob of `len` zero bytes (at most the memory limit).",
            "/// Example: `blob(3)` → `blob(3, 0)`",
        ])
        .with_params_info(["len"])
        .register_into_engine(engine, |len: INT| blob_filled(len, 0));
    FuncRegistration::new("blob")
        .with_comments([
            "/// A blob of `len` bytes, each the low byte of `value` (at most the memory limit).",
            "/// Example: `blob(2, 0x41).len()` → `2`",
        ])
        .with_params_info(["len", "value"])
        .register_into_engine(engine, blob_filled);
    FuncRegistration::new("pad")
        .with_comments([
            "/// Grows the blob to `len` bytes with the low byte of `value` (at most the memory limit); a longer blob is left as it is.",
            "/// Example: `{ let b = blob(1, 7); b.pad(3, 1); b.to_array() }` → `[7, 1, 1]`",
        ])
        .with_params_info(["blob: &mut Blob", "len", "value"])
        .register_into_engine(engine,
        |blob: &mut Blob, len: INT, value: INT| -> Fallible<()> {
            let len = usize::try_from(len).unwrap_or(0);
            if len > blob.len() {
                too_large(&format!("pad({len}, …) of a blob"), len as u64)?;
                blob.resize(len, (value & 0xff) as u8);
            }
            Ok(())
        },
    );
    FuncRegistration::new("pad")
        .with_comments([
            "/// Grows the array to `len` elements with copies of `item` (at most the memory limit); a longer array is left as it is.",
            "/// Example: `{ let a = [1]; a.pad(3, 0); a }` → `[1, 0, 0]`",
        ])
        .with_params_info(["array: &mut Array", "len", "item"])
        .register_into_engine(engine,
        |array: &mut Array, len: INT, item: Dynamic| -> Fallible<()> {
            let len = usize::try_from(len).unwrap_or(0);
            if len > array.len() {
                let each =
                    std::mem::size_of::<Dynamic>() as u64 + heap_bytes(&item, &mut 1_000_000);
                let added = (len - array.len()) as u64;
                too_large(
                    &format!("pad({len}, …) of an array"),
                    added.saturating_mul(each),
                )?;
                array.resize(len, item);
            }
            Ok(())
        },
    );
    fn pad_string(string: &mut ImmutableString, len: INT, padding: &str) -> Fallible<()> {
        let len = usize::try_from(len).unwrap_or(0);
        let have = string.chars().count();
        let step = padding.chars().count();
        if len <= have || step == 0 {
            return Ok(());
        }
        let bytes = ((len - have) as u64).saturating_mul(padding.len() as u64) / step as u64;
        too_large(&format!("pad({len}, …) of a string"), bytes)?;
        let s = string.make_mut();
        s.extend(padding.chars().cycle().take(len - have));
        Ok(())
    }
    FuncRegistration::new("pad")
        .with_comments([
            "/// Grows the string to `len` characters with copies of `c` (at most the memory limit); a longer string is left as it is.",
            "/// Example: `{ let s = \"ab\"; s.pad(4, '-'); s }` → `\"ab--\"`",
        ])
        .with_params_info(["string: &mut String", "len", "c"])
        .register_into_engine(engine,
        |string: &mut ImmutableString, len: INT, c: char| -> Fallible<()> {
            pad_string(string, len, c.encode_utf8(&mut [0; 4]))
        },
    );
    FuncRegistration::new("pad")
        .with_comments([
            "/// Grows the string to `len` characters by repeating `padding` (at most the memory limit); a longer string is left as it is.",
            "/// Example: `{ let s = \"a\"; s.pad(4, \"xy\"); s }` → `\"axyx\"`",
        ])
        .with_params_info(["string: &mut String", "len", "padding"])
        .register_into_engine(engine,
        |string: &mut ImmutableString, len: INT, padding: &str| pad_string(string, len, padding),
    );
}

/// Sets every sandbox limit on `engine`.
pub fn apply(engine: &mut Engine) {
    engine.set_max_operations(MAX_OPERATIONS);
    engine.set_max_call_levels(MAX_CALL_LEVELS);
    engine.set_max_expr_depths(128, 64);
    // Off (0): see the module docs; memory is bounded by `on_progress` instead.
    engine.set_max_string_size(0);
    engine.set_max_array_size(0);
    engine.set_max_map_size(0);
    engine.set_max_modules(256);
    // The string interner is one lock shared by every thread: a thread that finds it taken
    // sleeps 10 ms, and what it allocates would depend on the other threads.
    engine.set_max_strings_interned(0);
    engine.on_progress(on_progress);
    register_sized_builtins(engine);
}
