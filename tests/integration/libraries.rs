//! Script libraries shared between labs (issue 23): installed from real git repositories made
//! in a temporary folder (`file://` URLs, tags, commits), pinned by a lock file whose content
//! check names the changed file, recorded and carried by run bundles, checked by `lib test`,
//! documented by `lib doc` (opened in a real headless browser), and the README's walk-through
//! run as written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

use crate::harness::{code, command, repo, stderr, stdout, TempDir};

/// git with an identity of its own, so tests need no global git configuration.
fn git(cwd: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(cwd)
        .envs(git_identity())
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn git_identity() -> [(&'static str, &'static str); 4] {
    [
        ("GIT_AUTHOR_NAME", "Lab A"),
        ("GIT_AUTHOR_EMAIL", "lab-a@example.org"),
        ("GIT_COMMITTER_NAME", "Lab A"),
        ("GIT_COMMITTER_EMAIL", "lab-a@example.org"),
    ]
}

/// `psychrnn ARGS` in `cwd` with the library store in `home`.
fn lib_cmd(home: &Path, cwd: &Path, args: &[&str]) -> Output {
    command(cwd, args)
        .env("PSYCHRNN_HOME", home)
        .output()
        .expect("run psychrnn")
}

/// A two-choice task module: the cue's side is reported after `delay` ms; `target_level` is
/// the chosen side's target (a version bump changes it).
fn task_module(target_level: f64) -> String {
    format!(
        r#"//! Test lab tasks.

/// Cue report with a delay. Options (defaults): delay 200.
fn cue_report(options) {{
    let delay = if "delay" in options {{ options.delay }} else {{ 200.0 }};
    #{{
        name: "cue_report",
        inputs: ["left", "right"], outputs: ["left", "right"],
        dt: 20.0, tau: 100.0, duration: 400.0 + delay,
        score: #{{ kind: "argmax", epoch: "response" }},
        params: |rng| #{{ side: rng.int(0, 1) }},
        trial: |p| {{
            let cue = [0.0, 0.0];
            cue[p.side] = 1.0;
            let choice = [0.2, 0.2];
            choice[p.side] = {target_level};
            [
                #{{ name: "cue", duration: 200.0, input: cue, target: [0.2, 0.2] }},
                #{{ name: "delay", duration: delay, target: [0.2, 0.2] }},
                #{{ name: "response", target: choice }},
            ]
        }},
    }}
}}

/// Not a task: a helper.
fn double(x) {{ 2 * x }}
"#
    )
}

fn manifest(name: &str, version: &str, extra: &str) -> String {
    format!("name: {name}\nversion: {version}\ndescription: test tasks\nauthors: [Lab A]\nlicence: MIT\npsychrnn: \">=0.1\"\nexports: [tasks]\n{extra}")
}

/// A git repository `repo` with version 1.0.0 tagged `v1.0.0`, then a commit of 1.1.0
/// (untagged); returns the 1.1.0 commit.
fn lab_repo(dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("psychrnn-library.yaml"),
        manifest("lab-tasks", "1.0.0", ""),
    )
    .unwrap();
    std::fs::write(dir.join("tasks.rhai"), task_module(1.0)).unwrap();
    git(dir, &["init", "-q"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "1.0.0"]);
    git(dir, &["tag", "v1.0.0"]);
    std::fs::write(
        dir.join("psychrnn-library.yaml"),
        manifest("lab-tasks", "1.1.0", ""),
    )
    .unwrap();
    std::fs::write(dir.join("tasks.rhai"), task_module(0.9)).unwrap();
    git(dir, &["commit", "-qam", "1.1.0"]);
    git(dir, &["rev-parse", "HEAD"])
}

fn sha256(path: &Path) -> String {
    format!("{:x}", Sha256::digest(std::fs::read(path).unwrap()))
}

const EXPERIMENT: &str = r#"import "lab-tasks/tasks" as lab;
experiment(#{ name: "cue", task: lab::cue_report(#{}), model: #{ n_rec: 8 },
    train: #{ iterations: 4, batch_size: 8, eval_every: 2, eval_trials: 8, test_trials: 8 } });
"#;

#[test]
fn a_library_from_git_is_installed_by_tag_and_commit_pinned_and_reproduced_where_it_is_not_installed(
) {
    let dir = TempDir::new("lib-git");
    let home = dir.join("home");
    let commit_1_1 = lab_repo(&dir.join("lab"));
    let url = format!("file://{}", dir.join("lab").display());
    let tag_commit = git(&dir.join("lab"), &["rev-parse", "v1.0.0"]);

    let out = lib_cmd(&home, &dir, &["lib", "add", &format!("{url}@v1.0.0")]);
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!(
            "installed lab-tasks 1.0.0 at commit {} from {url} into ",
            &tag_commit[..12]
        )),
        "{text}"
    );
    stdout(&lib_cmd(
        &home,
        &dir,
        &["lib", "add", &format!("{url}@{commit_1_1}")],
    ));
    // The store holds both versions side by side, each with the content of its commit.
    let v1 = home.join("libraries/lab-tasks/1.0.0/tasks.rhai");
    let v11 = home.join("libraries/lab-tasks/1.1.0/tasks.rhai");
    assert_eq!(std::fs::read_to_string(&v1).unwrap(), task_module(1.0));
    assert_eq!(std::fs::read_to_string(&v11).unwrap(), task_module(0.9));
    let list = stdout(&lib_cmd(&home, &dir, &["lib", "list"]));
    let rows: Vec<Vec<&str>> = list
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["library", "version", "commit", "source"]);
    assert_eq!(
        rows[1],
        ["lab-tasks", "1.0.0", &tag_commit[..12], url.as_str()]
    );
    assert_eq!(
        rows[2],
        ["lab-tasks", "1.1.0", &commit_1_1[..12], url.as_str()]
    );
    // Adding the same content again changes nothing; a missing tag is named.
    assert!(stdout(&lib_cmd(
        &home,
        &dir,
        &["lib", "add", &format!("{url}@v1.0.0")]
    ))
    .contains("already installed with the same content"));
    let bad = lib_cmd(&home, &dir, &["lib", "add", &format!("{url}@v9")]);
    assert_eq!(code(&bad), 2);
    assert!(
        stderr(&bad).contains("has no tag, branch or commit `v9`"),
        "{}",
        stderr(&bad)
    );

    // The project pins the newest installed version with each file's hash.
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("cue.rhai"), EXPERIMENT).unwrap();
    stdout(&lib_cmd(&home, &dir, &["lib", "lock", "project"]));
    let lock: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(project.join("psychrnn.lock")).unwrap())
            .unwrap();
    let pinned = &lock["libraries"][0];
    assert_eq!(pinned["name"].as_str(), Some("lab-tasks"));
    assert_eq!(pinned["version"].as_str(), Some("1.1.0"));
    assert_eq!(pinned["commit"].as_str(), Some(commit_1_1.as_str()));
    assert_eq!(
        pinned["files"]["tasks.rhai"].as_str(),
        Some(sha256(&v11).as_str())
    );

    // A run records the library and carries its module.
    let out = lib_cmd(
        &home,
        &project,
        &["run", "cue.rhai", "--out", "runs/cue", "--quiet"],
    );
    stdout(&out);
    let config: serde_norway::Value = serde_norway::from_str(
        &std::fs::read_to_string(project.join("runs/cue/config.yaml")).unwrap(),
    )
    .unwrap();
    let recorded = &config["libraries"][0];
    assert_eq!(recorded["version"].as_str(), Some("1.1.0"));
    assert_eq!(recorded["source"].as_str(), Some(url.as_str()));
    assert_eq!(recorded["commit"].as_str(), Some(commit_1_1.as_str()));
    assert_eq!(recorded["files"], pinned["files"]);
    let import = &config["imports"][0];
    assert_eq!(import["module"].as_str(), Some("lab-tasks@1.1.0/tasks"));
    assert_eq!(import["library"].as_str(), Some("lab-tasks@1.1.0"));
    let copy = project
        .join("runs/cue")
        .join(import["copy"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(copy).unwrap(), task_module(0.9));

    // Elsewhere, with an empty store, the run reproduces from its bundle.
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let moved = elsewhere.join("cue");
    std::fs::rename(project.join("runs/cue"), &moved).unwrap();
    let empty_home = dir.join("empty-home");
    let out = lib_cmd(
        &empty_home,
        &elsewhere,
        &["run", "cue/config.yaml", "--out", "again", "--quiet"],
    );
    stdout(&out);
    let again: serde_norway::Value = serde_norway::from_str(
        &std::fs::read_to_string(elsewhere.join("again/config.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(again["libraries"], config["libraries"]);
    assert!(!stderr(&out).contains("changed"), "{}", stderr(&out));

    // An installed file that no longer matches the lock is refused, naming the file.
    std::fs::write(&v11, task_module(0.8)).unwrap();
    let out = lib_cmd(&home, &project, &["check", "cue.rhai"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "lab-tasks 1.1.0 has changed since it was locked: {} has SHA-256 {}, the lock pins {}",
            v11.display(),
            sha256(&v11),
            pinned["files"]["tasks.rhai"].as_str().unwrap()
        )),
        "{err}"
    );
    assert!(err.starts_with("error: cue.rhai:1:8: "), "{err}");
    // Removing one version leaves the other.
    assert_eq!(
        stdout(&lib_cmd(&home, &dir, &["lib", "remove", "lab-tasks@1.1.0"])),
        "removed lab-tasks 1.1.0\n"
    );
    assert!(v1.is_file() && !v11.exists());
    let out = lib_cmd(&home, &project, &["check", "cue.rhai"]);
    assert!(
        stderr(&out).contains(&format!(
            "the lock pins lab-tasks 1.1.0, which is not installed in {}; install it with psychrnn lib add {url}@{commit_1_1}",
            home.join("libraries").display()
        )),
        "{}",
        stderr(&out)
    );
}

/// Installs the folder `lib` into `home` (as a plain folder, no git).
fn install(home: &Path, lib: &Path) {
    stdout(&lib_cmd(
        home,
        lib.parent().unwrap(),
        &["lib", "add", lib.to_str().unwrap()],
    ));
}

#[test]
fn imports_that_cannot_resolve_say_why() {
    let dir = TempDir::new("lib-resolve");
    let home = dir.join("home");
    // The libraries' own folders are apart from the script's (a folder `other/` beside it
    // would make `import "other/tasks"` ambiguous, which is checked last).
    let lab = dir.join("src/lab");
    std::fs::create_dir_all(&lab).unwrap();
    std::fs::write(
        lab.join("psychrnn-library.yaml"),
        manifest("lab-tasks", "2.0.0", ""),
    )
    .unwrap();
    std::fs::write(lab.join("tasks.rhai"), task_module(1.0)).unwrap();
    std::fs::write(lab.join("helpers.rhai"), "fn one() { 1 }\n").unwrap();
    install(&home, &lab);
    // A second library whose module imports lab-tasks: first without declaring it, then
    // declaring a version that is not installed.
    let other = dir.join("src/other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(
        other.join("tasks.rhai"),
        "import \"lab-tasks/tasks\" as lab;\nfn wrapped(options) { lab::cue_report(options) }\n",
    )
    .unwrap();
    std::fs::write(
        other.join("psychrnn-library.yaml"),
        manifest("other", "0.1.0", ""),
    )
    .unwrap();
    install(&home, &other);
    let other_v2 = dir.join("src/other2");
    std::fs::create_dir_all(&other_v2).unwrap();
    std::fs::copy(other.join("tasks.rhai"), other_v2.join("tasks.rhai")).unwrap();
    std::fs::write(
        other_v2.join("psychrnn-library.yaml"),
        manifest("other", "0.2.0", "dependencies:\n  lab-tasks: \"^1.0\"\n"),
    )
    .unwrap();
    install(&home, &other_v2);

    let check = |script: &str| -> String {
        let path = dir.join("exp.rhai");
        std::fs::write(&path, script).unwrap();
        let out = lib_cmd(&home, &dir, &["check", "exp.rhai"]);
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        stderr(&out)
    };
    let err = check("import \"lab-tasks/helpers\" as h;\n");
    assert_eq!(
        err,
        "error: exp.rhai:1:8: library lab-tasks 2.0.0 does not export `helpers`; it exports: tasks\n"
    );
    // other 0.2.0 (newest) needs lab-tasks ^1.0 but 2.0.0 is installed.
    let experiment = "import \"other/tasks\" as o;\nexperiment(#{ task: o::wrapped(#{}) });\n";
    let err = check(experiment);
    assert!(
        err.contains("other 0.2.0 needs lab-tasks ^1.0, but the installed versions are: 2.0.0; install one with psychrnn lib add"),
        "{err}"
    );
    // With lab-tasks 1.5.0 installed beside 2.0.0, other 0.2.0 loads 1.5.0 (the newest it
    // accepts) while a script's own import would load 2.0.0.
    let lab15 = dir.join("src/lab15");
    std::fs::create_dir_all(&lab15).unwrap();
    std::fs::write(
        lab15.join("psychrnn-library.yaml"),
        manifest("lab-tasks", "1.5.0", ""),
    )
    .unwrap();
    std::fs::write(lab15.join("tasks.rhai"), task_module(0.7)).unwrap();
    install(&home, &lab15);
    std::fs::write(dir.join("exp.rhai"), experiment).unwrap();
    let out = lib_cmd(
        &home,
        &dir,
        &["trials", "exp.rhai", "-n", "2", "-o", "t.npz"],
    );
    stdout(&out);
    let loaded = psychrnn::script::load_experiment(
        &dir.join("exp.rhai"),
        &psychrnn::script::LoadOptions {
            libraries: Some(psychrnn::library::Store::new(home.join("libraries"))),
            ..Default::default()
        },
    )
    .unwrap();
    let used: Vec<String> = loaded.libraries.iter().map(|l| l.label()).collect();
    assert_eq!(used, ["other 0.2.0", "lab-tasks 1.5.0"]);
    stdout(&lib_cmd(&home, &dir, &["lib", "remove", "lab-tasks@1.5.0"]));
    // With other 0.1.0 only, the import is undeclared.
    stdout(&lib_cmd(&home, &dir, &["lib", "remove", "other@0.2.0"]));
    let err = check(experiment);
    assert!(
        err.contains("other 0.1.0 imports lab-tasks, which its psychrnn-library.yaml does not list under dependencies; add `lab-tasks: \"^VERSION\"` there"),
        "{err}"
    );
    // A file that an import could also mean is an error, not a silent choice.
    std::fs::create_dir_all(dir.join("lab-tasks")).unwrap();
    std::fs::write(dir.join("lab-tasks/tasks.rhai"), "fn x() { 1 }\n").unwrap();
    let err = check("import \"lab-tasks/tasks\" as t;\n");
    assert_eq!(
        err,
        "error: exp.rhai:1:8: import \"lab-tasks/tasks\" names both the library module lab-tasks@2.0.0/tasks and the file ./lab-tasks/tasks.rhai; rename the file (or import it as \"./lab-tasks/tasks.rhai\")\n"
    );
    // Spelled as a file, the import is the file.
    let path = dir.join("exp.rhai");
    std::fs::write(
        &path,
        "import \"./lab-tasks/tasks.rhai\" as t;\nlet x = t::x();\n",
    )
    .unwrap();
    let out = lib_cmd(&home, &dir, &["check", "exp.rhai"]);
    assert!(
        stderr(&out).contains("declares no experiment"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(dir.join("lab-tasks")).unwrap();
    // A lock that does not pin an imported library says so.
    std::fs::write(
        dir.join("psychrnn.lock"),
        "format_version: 1\nlibraries: []\n",
    )
    .unwrap();
    let err = check("import \"lab-tasks/tasks\" as t;\n");
    assert!(
        err.contains("psychrnn.lock: the script imports library lab-tasks, which the lock does not pin (it pins: nothing); run psychrnn lib lock"),
        "{err}"
    );
    // A manifest with a bad field is refused by lib add, naming the field.
    let bad = dir.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("tasks.rhai"), "fn x() { 1 }\n").unwrap();
    std::fs::write(
        bad.join("psychrnn-library.yaml"),
        manifest("bad", "1.0", ""),
    )
    .unwrap();
    let out = lib_cmd(&home, &dir, &["lib", "add", "bad"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).starts_with("error: bad/psychrnn-library.yaml: version: "),
        "{}",
        stderr(&out)
    );
    std::fs::write(
        bad.join("psychrnn-library.yaml"),
        manifest("bad", "1.0.0", "").replace("[tasks]", "[tasks, cues]"),
    )
    .unwrap();
    let out = lib_cmd(&home, &dir, &["lib", "add", "bad"]);
    assert!(
        stderr(&out).contains("exports: module `cues` has no file cues.rhai in bad"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn lib_test_passes_the_standard_library_and_every_bundled_script() {
    let dir = TempDir::new("lib-test-stdlib");
    let mut args: Vec<String> = vec!["lib".into(), "test".into(), "psychrnn".into()];
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(repo().join("scripts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    scripts.sort();
    args.extend(scripts.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = lib_cmd(&dir.join("home"), &repo(), &args);
    let text = stdout(&out);
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("task "))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    let tasks = psychrnn::script::stdlib::MODULES.len(); // at least one task per… checked below
    assert!(tasks > 0);
    let stdlib_rows = rows.iter().filter(|r| r.starts_with("tasks::")).count();
    assert!(stdlib_rows >= 15, "{text}");
    assert_eq!(rows.len(), stdlib_rows + scripts.len(), "{text}");
    for r in &rows {
        let cells: Vec<&str> = r.split_whitespace().collect();
        assert_eq!(
            cells[1..],
            ["ok", "ok", "ok", "ok", "ok", "ok", "pass"],
            "{r}"
        );
    }
    assert!(
        text.contains(&format!("every task passed ({})", rows.len())),
        "{text}"
    );
    // Non-task functions are listed, not silently dropped.
    assert!(
        text.contains("scorers::argmax() (does not return a task map"),
        "{text}"
    );
}

#[test]
fn lib_test_fails_a_task_whose_scorer_cannot_tell_a_silent_network() {
    let dir = TempDir::new("lib-test-bad");
    let lab = dir.join("lab");
    std::fs::create_dir_all(&lab).unwrap();
    std::fs::write(
        lab.join("psychrnn-library.yaml"),
        manifest("lab-tasks", "1.0.0", ""),
    )
    .unwrap();
    // One output channel: argmax counts every network right.
    let one_channel = task_module(1.0)
        .replace("outputs: [\"left\", \"right\"]", "outputs: [\"answer\"]")
        .replace("target: [0.2, 0.2]", "target: [0.2]")
        .replace(
            "let choice = [0.2, 0.2];\n            choice[p.side] = 1;",
            "let choice = [1.0 * p.side];",
        );
    assert!(one_channel.contains("let choice = [1.0 * p.side];"));
    std::fs::write(
        lab.join("tasks.rhai"),
        format!(
            "{}\n{}",
            task_module(1.0),
            one_channel
                .replace("fn cue_report", "fn one_channel")
                .replace("//! Test lab tasks.", "")
                .replace("fn double", "fn triple")
        ),
    )
    .unwrap();
    let out = lib_cmd(&dir.join("home"), &dir, &["lib", "test", "lab"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let row = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row {name}:\n{text}"))
            .to_string()
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let ok = ["ok", "ok", "ok", "ok", "ok", "ok", "pass"];
    assert_eq!(row("tasks::cue_report(options)")[1..], ok, "{text}");
    let silent_fails = ["ok", "ok", "ok", "ok", "FAIL", "ok", "FAIL"];
    assert_eq!(
        row("tasks::one_channel(options)")[1..],
        silent_fails,
        "{text}"
    );
    assert!(
        text.contains("FAIL silent         all-zero outputs score 96/96: the scorer (argmax) counts a silent network correct on every trial"),
        "{text}"
    );
    assert_eq!(stderr(&out), "error: 1 of 2 tasks failed\n");
}

/// A browser binary: Debian's chromium, or the headless shell.
fn browser() -> Option<PathBuf> {
    [
        "chromium",
        "chromium-headless-shell",
        "chromium-browser",
        "google-chrome",
    ]
    .iter()
    .find_map(|name| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

fn headless(browser: &Path, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

#[test]
fn lib_doc_writes_a_page_a_headless_browser_renders() {
    let dir = TempDir::new("lib-doc");
    let home = dir.join("home");
    let lab = dir.join("lab");
    std::fs::create_dir_all(&lab).unwrap();
    std::fs::write(
        lab.join("psychrnn-library.yaml"),
        manifest("lab-tasks", "1.0.0", ""),
    )
    .unwrap();
    std::fs::write(lab.join("tasks.rhai"), task_module(1.0)).unwrap();
    install(&home, &lab);
    let out = lib_cmd(&home, &dir, &["lib", "doc", "lab-tasks", "-o", "docs"]);
    assert_eq!(
        stdout(&out),
        "lab-tasks 1.0.0 documented in docs/index.html\n"
    );
    let page = dir.join("docs/index.html");
    let Some(browser) = browser() else {
        println!("SKIPPED the browser check: no chromium binary on PATH (.ci/run installs it)");
        return;
    };
    let dom = headless(&browser, &dir.join("profile"))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(dom.status.success(), "{}", stderr(&dom));
    let dom = String::from_utf8_lossy(&dom.stdout);
    for expected in [
        "<h1>lab-tasks 1.0.0</h1>",
        "<h3>tasks::cue_report(options)</h3>",
        "Cue report with a delay. Options (defaults): delay 200.",
        "<tr><th>inputs</th><td>left, right</td></tr>",
        "<tr><td>response</td><td>200 ms</td></tr>",
        "<tr><th>licence</th><td>MIT</td></tr>",
        "<code>tasks::double(x)</code>",
    ] {
        assert!(dom.contains(expected), "{expected} not in the DOM:\n{dom}");
    }
    // The browser parsed the inline figure: an svg element holding drawn lines.
    let figure = dom.split("<figure>").nth(1).expect("a figure");
    assert!(
        figure.starts_with("<svg"),
        "{}",
        &figure[..200.min(figure.len())]
    );
    assert!(
        figure.matches("<polyline").count() >= 6,
        "the figure draws no curves"
    );
    let shot = dir.join("page.png");
    let out = headless(&browser, &dir.join("profile"))
        .arg("--window-size=1200,1600")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    assert_eq!(width, 1200);
}

/// The README's "Sharing tasks between labs" walk-through, run as written: its files are
/// written where the `<!-- file: PATH -->` line before each block says, and its ```bash
/// blocks run in order in one folder, with psychrnn on the PATH.
#[test]
fn the_readme_walk_through_of_sharing_a_library_runs_as_written() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let section = readme
        .split("\n## Sharing tasks between labs\n")
        .nth(1)
        .expect("README has the section")
        .split("\n## ")
        .next()
        .unwrap();
    let dir = TempDir::new("lib-readme");
    let mut file: Option<String> = None;
    let mut block: Option<(String, String)> = None;
    let mut scripts = 0;
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_psychrnn")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for line in section.lines() {
        if let Some((kind, mut body)) = block.take() {
            if line.trim() == "```" {
                if kind == "bash" {
                    scripts += 1;
                    let out = Command::new("bash")
                        .args(["-euo", "pipefail", "-c", &body])
                        .current_dir(&dir)
                        .env("PATH", &path)
                        .env("PSYCHRNN_HOME", dir.join("home"))
                        .env_remove("PSYCHRNN_PATH")
                        .envs(git_identity())
                        .output()
                        .unwrap();
                    assert!(
                        out.status.success(),
                        "{body}\nstdout:\n{}\nstderr:\n{}",
                        String::from_utf8_lossy(&out.stdout),
                        stderr(&out)
                    );
                } else if let Some(f) = file.take() {
                    let p = dir.join(f);
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    std::fs::write(p, &body).unwrap();
                }
            } else {
                body.push_str(line);
                body.push('\n');
                block = Some((kind, body));
            }
            continue;
        }
        if let Some(f) = line
            .strip_prefix("<!-- file: ")
            .and_then(|l| l.strip_suffix(" -->"))
        {
            file = Some(f.to_string());
        } else if let Some(kind) = line.strip_prefix("```") {
            block = Some((kind.to_string(), String::new()));
        }
    }
    assert_eq!(scripts, 3, "the walk-through has three command blocks");
    assert!(dir.join("lab-a-docs/index.html").is_file());
    assert!(dir.join("lab-b/psychrnn.lock").is_file());
    assert!(dir.join("lab-b/runs/again/weights.npz").is_file());
    assert!(!dir.join("home/libraries/lab-a-tasks").exists());
}
