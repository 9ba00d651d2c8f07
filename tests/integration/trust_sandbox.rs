//! The script sandbox bounds every runaway (time, memory, nesting, recursion) with an error
//! that names the closure and the limit; import cycles are errors; drawing trials on many
//! threads of a busy machine never fails because of the threads and gives the same batches.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::harness::{psychrnn, repo, stderr, TempDir};
use psychrnn::random::stream;
use psychrnn::script::{load_experiment, LoadOptions};
use psychrnn::task::{generate_batch_with_threads, Batch, Task};

/// Held by every test: the timings of the runaway tests mean something only when the stress
/// tests' busy threads are not running beside them.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// A script whose top level runs `top`, and whose task has `closures` (params and trial or
/// step; the defaults fill what is not given).
fn script(top: &str, params: &str, trial: &str) -> String {
    format!(
        "{top}\nexperiment(#{{ task: #{{ name: \"runaway\", inputs: [\"a\"], outputs: [\"b\"], dt: 10.0, tau: 100.0, duration: 100.0,\n    params: {params},\n    {trial} }} }});\n"
    )
}

const PARAMS: &str = "|rng| #{}";
const TRIAL: &str = "trial: |p| [#{ name: \"x\", duration: 100.0 }]";

/// Runs `psychrnn check` on `text`; asserts exit status 2, a stop within 1 s (3 s allowed
/// for a busy machine) and a message naming `context`, `limit` and the script file:line.
fn assert_stopped(name: &str, text: &str, context: &str, limit: &str) {
    let dir = TempDir::new(name);
    let path = dir.write(&format!("{name}.rhai"), text);
    let start = Instant::now();
    let out = psychrnn(&["check", path.to_str().unwrap()]);
    let seconds = start.elapsed().as_secs_f64();
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{name}: {e}");
    assert!(
        e.contains(&format!("{name}.rhai:")),
        "{name}: not located: {e}"
    );
    assert!(e.contains(context), "{name}: no `{context}`: {e}");
    assert!(e.contains(limit), "{name}: no `{limit}`: {e}");
    // 1 s here on an idle machine (see the limits in src/script/sandbox.rs); 5 s allows for
    // a busy one and still catches a limit that scales badly (minutes before).
    assert!(seconds < 5.0, "{name}: took {seconds:.2} s to stop");
}

#[test]
fn array_growth_stops_at_top_level_and_in_params() {
    let _serial = one_at_a_time();
    let grow = "let a = []; loop { a.push(a.len()); }";
    assert_stopped(
        "array_top",
        &script(grow, PARAMS, TRIAL),
        "(at the script's top level)",
        "operation limit: a script call may run at most 5000000 operations",
    );
    assert_stopped(
        "array_params",
        &script("", &format!("|rng| {{ {grow} }}"), TRIAL),
        "(in task.params)",
        "operation limit",
    );
    // Elements that are themselves large: memory runs out before operations do.
    assert_stopped(
        "array_big_items",
        &script(
            "",
            "|rng| { let row = []; row.pad(10000, 1.0); let a = []; loop { a.push(row); } }",
            TRIAL,
        ),
        "(in task.params)",
        "memory limit: a script call may hold at most 128 MiB",
    );
}

#[test]
fn string_growth_stops() {
    let _serial = one_at_a_time();
    assert_stopped(
        "string_double",
        &script("", PARAMS, "trial: |p| { let s = \"x\"; loop { s += s; } }"),
        "(in task.trial)",
        "limit: a script call may",
    );
    assert_stopped(
        "string_append",
        &script(
            "let s = \"\"; loop { s += \"0123456789abcdef\"; }",
            PARAMS,
            TRIAL,
        ),
        "(at the script's top level)",
        "limit: a script call may",
    );
    assert_stopped(
        "string_pad",
        &script(
            "",
            "|rng| { let s = \"\"; s.pad(1000000000, \"ab\"); #{} }",
            TRIAL,
        ),
        "(in task.params)",
        "memory limit: pad(1000000000, …) of a string is too large",
    );
}

#[test]
fn map_growth_by_index_assignment_stops() {
    let _serial = one_at_a_time();
    assert_stopped(
        "map_big_values",
        &script(
            "",
            "|rng| { let big = []; big.pad(100000, 0.5); let m = #{}; let i = 0; loop { m[`k${i}`] = big; i += 1; } }",
            TRIAL,
        ),
        "(in task.params)",
        "memory limit: a script call may hold at most 128 MiB",
    );
    assert_stopped(
        "map_many_keys",
        &script(
            "let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }",
            PARAMS,
            TRIAL,
        ),
        "(at the script's top level)",
        "limit: a script call may",
    );
}

#[test]
fn blob_growth_stops() {
    let _serial = one_at_a_time();
    assert_stopped(
        "blob_double",
        &script("", "|rng| { let b = blob(16); loop { b += b; } }", TRIAL),
        "(in task.params)",
        "limit: a script call may",
    );
    assert_stopped(
        "blob_huge",
        &script("let b = blob(1000000000);", PARAMS, TRIAL),
        "(at the script's top level)",
        "memory limit: blob(1000000000) is too large",
    );
    assert_stopped(
        "blob_push",
        &script(
            "",
            PARAMS,
            "step: |t, p| { let b = blob(); loop { b.push(1); } }",
        ),
        "(in task.step)",
        "operation limit",
    );
}

#[test]
fn deep_nesting_and_recursion_stop() {
    let _serial = one_at_a_time();
    assert_stopped(
        "nest_array",
        &script("", "|rng| { let a = []; loop { a = [a]; } }", TRIAL),
        "(in task.params)",
        "allocation limit: a script call may allocate at most 500000 times",
    );
    assert_stopped(
        "nest_map",
        &script("let a = #{}; loop { a = #{ inner: a }; }", PARAMS, TRIAL),
        "(at the script's top level)",
        "allocation limit",
    );
    assert_stopped(
        "recursion",
        &script("fn deeper(x) { deeper([x]) }", "|rng| deeper(1)", TRIAL),
        "(in task.params)",
        "call depth limit: functions may nest at most 64 calls deep",
    );
    // A value copied over and over costs far more than its operations.
    assert_stopped(
        "copy_big",
        &script(
            "let a = []; a.pad(4000000, 1); loop { let b = a; }",
            PARAMS,
            TRIAL,
        ),
        "(at the script's top level)",
        "allocation limit: a script call may allocate at most 256 MiB in all",
    );
}

#[test]
fn curriculum_rules_are_bounded_too() {
    let _serial = one_at_a_time();
    let dir = TempDir::new("rule");
    let text = script("", PARAMS, TRIAL).replace(
        "} });\n",
        "}, curriculum: [#{ name: \"a\", advance: |s| { let a = []; loop { a.push(1); } } }, #{ name: \"b\" }],\n    train: #{ iterations: 2, eval_every: 1, batch_size: 4, eval_trials: 4 }, model: #{ n_rec: 4 } });\n",
    );
    let path = dir.write("rule.rhai", &text);
    let out_dir = dir.join("runs");
    let start = Instant::now();
    let out = psychrnn(&[
        "run",
        path.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let e = stderr(&out);
    assert!(!out.status.success(), "{e}");
    assert!(e.contains("rule.rhai:"), "{e}");
    assert!(e.contains("operation limit"), "{e}");
    assert!(
        e.contains("(in the rule of curriculum stage 'a')"),
        "names the rule: {e}"
    );
    assert!(start.elapsed() < Duration::from_secs(20));
}

fn import_error(files: &[(&str, &str)], main: &str) -> String {
    let dir = TempDir::new(&format!("cycle-{}", files.len()));
    for (name, text) in files {
        dir.write(name, text);
    }
    let path = dir.write("main.rhai", &script(main, PARAMS, TRIAL));
    let out = psychrnn(&["check", path.to_str().unwrap()]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    e
}

#[test]
fn import_cycles_are_errors_that_name_the_cycle() {
    let _serial = one_at_a_time();
    let e = import_error(
        &[("a.rhai", "import \"a\" as a;\nfn f() { 1 }")],
        "import \"a\" as a;",
    );
    assert!(e.contains("import cycle: "), "{e}");
    assert!(e.contains("a.rhai → "), "{e}");
    assert!(!e.contains("overflow"), "{e}");

    let e = import_error(
        &[
            ("a.rhai", "import \"b\" as b;\nfn f() { 1 }"),
            ("b.rhai", "import \"a\" as a;\nfn g() { 2 }"),
        ],
        "import \"a\" as a;",
    );
    let names = |e: &str| -> Vec<String> {
        let line = e.lines().find(|l| l.contains("import cycle: ")).unwrap();
        let cycle = line.split("import cycle: ").nth(1).unwrap();
        let cycle = cycle.split(';').next().unwrap();
        cycle
            .split(" → ")
            .map(|p| {
                Path::new(p)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    };
    assert_eq!(names(&e), ["a.rhai", "b.rhai", "a.rhai"], "{e}");

    let e = import_error(
        &[
            ("a.rhai", "import \"b\" as b;\nfn f() { 1 }"),
            ("b.rhai", "import \"c\" as c;\nfn g() { 2 }"),
            ("c.rhai", "import \"a\" as a;\nfn h() { 3 }"),
        ],
        "import \"a\" as a;",
    );
    assert_eq!(names(&e), ["a.rhai", "b.rhai", "c.rhai", "a.rhai"], "{e}");
}

#[test]
fn a_module_imported_twice_without_a_cycle_is_fine() {
    let _serial = one_at_a_time();
    let dir = TempDir::new("diamond");
    dir.write("shared.rhai", "fn one() { 1 }");
    dir.write("left.rhai", "import \"shared\" as s;\nfn l() { s::one() }");
    dir.write("right.rhai", "import \"shared\" as s;\nfn r() { s::one() }");
    let path = dir.write(
        "main.rhai",
        &script(
            "import \"left\" as left;\nimport \"right\" as right;",
            "|rng| #{ x: left::l() + right::r() }",
            TRIAL,
        ),
    );
    let out = psychrnn(&["check", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Busy-loop threads (twice the cores) until dropped: a loaded machine, where a thread can
/// be descheduled in the middle of a script call.
struct Busy(Arc<AtomicBool>, Vec<std::thread::JoinHandle<()>>);

impl Busy {
    fn start() -> Busy {
        let stop = Arc::new(AtomicBool::new(false));
        let n = 2 * std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = (0..n)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                })
            })
            .collect();
        Busy(stop, threads)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        for t in self.1.drain(..) {
            let _ = t.join();
        }
    }
}

fn same(a: &Batch, b: &Batch) -> bool {
    a.inputs == b.inputs && a.targets == b.targets && a.mask == b.mask
}

/// Many batches on more threads than cores while the machine is busy: none fails, and each
/// equals the same batch drawn on one thread.
fn stress(task: &dyn Task, batches: u64) {
    let threads = 4 * std::thread::available_parallelism().map_or(2, |n| n.get());
    let _busy = Busy::start();
    for b in 0..batches {
        let many = generate_batch_with_threads(task, 11, stream::TRAIN, b, 64, threads)
            .unwrap_or_else(|e| panic!("batch {b} on {threads} threads: {e}"));
        if b % 8 == 0 {
            let one = generate_batch_with_threads(task, 11, stream::TRAIN, b, 64, 1).unwrap();
            assert!(same(&many, &one), "batch {b} depends on the thread count");
        }
    }
}

#[test]
fn multitask_batches_on_many_threads_of_a_busy_machine_never_fail() {
    let _serial = one_at_a_time();
    let loaded = load_experiment(
        &repo().join("scripts/yang_multitask.rhai"),
        &LoadOptions::default(),
    )
    .unwrap();
    stress(loaded.task.as_ref(), 60);
}

#[test]
fn captured_variables_of_user_scripts_and_modules_are_safe_on_many_threads() {
    let _serial = one_at_a_time();
    let dir = TempDir::new("captures");
    dir.write(
        "levels.rhai",
        "let weights = [0.25, 0.5, 1.0];\n\
         export const pick = |rng| weights[rng.int(0, weights.len() - 1)] * weights.len();\n\
         fn strengths() { let s = [0.1, 0.2, 0.4]; |rng| s[rng.int(0, 2)] + s.index_of(0.2) }\n",
    );
    let path = dir.write(
        "main.rhai",
        &script(
            "import \"levels\" as levels;\n\
             let names = [\"left\", \"right\"];\n\
             let table = #{ left: [1.0, 2.0], right: [3.0, 4.0] };\n\
             let strength = levels::strengths();\n\
             let long = []; long.pad(5000, 0.5);",
            "|rng| { let side = names[rng.int(0, 1)]; let scan = long.index_of(1.0); \
             #{ side: side, index: names.index_of(side), level: table[side][rng.int(0, 1)] * names.len(), \
                pick: levels::pick.call(rng), strength: strength.call(rng), known: names.contains(side), scan: scan } }",
            "trial: |p| [#{ name: \"x\", duration: 50.0, input: p.level + p.pick + p.strength + p.index }, #{ name: \"y\", input: table[p.side][0] }]",
        ),
    );
    let loaded = load_experiment(&path, &LoadOptions::default()).unwrap();
    // `long.index_of` holds the captured array for tens of µs per trial: without private
    // copies, threads collide on it within a few batches.
    stress(loaded.task.as_ref(), 10);
}

#[test]
fn a_closure_changing_a_captured_variable_changes_only_its_own_copy() {
    let _serial = one_at_a_time();
    // Each call starts from the captured values as declared, so batches do not depend on
    // which trials ran before on which thread.
    let dir = TempDir::new("counter");
    let path = dir.write(
        "main.rhai",
        &script(
            "let count = 0;",
            "|rng| { count += 1; #{ count: count } }",
            "trial: |p| [#{ name: \"x\", input: p.count }]",
        ),
    );
    let loaded = load_experiment(&path, &LoadOptions::default()).unwrap();
    let batch =
        generate_batch_with_threads(loaded.task.as_ref(), 1, stream::TRAIN, 0, 16, 4).unwrap();
    assert!(batch.inputs.iter().all(|&x| x == 1.0), "{:?}", batch.inputs);
}
