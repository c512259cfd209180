//! `tt quickstart` end to end: the real binary starts its embedded server, trains the
//! built-in model for real, evaluates it and exits 0; a second invocation starts afresh.

use crate::support::{stderr, stdout, tt_command};

#[test]
fn quickstart_runs_the_whole_loop_offline_and_can_run_again() {
    let home = tempfile::tempdir().expect("home");
    let data_dir = home.path().join("quickstart");
    let data = data_dir.to_str().expect("utf-8 path");
    // One epoch keeps CI short; the loop is the same as with the default twelve.
    let run = || {
        tt_command(home.path())
            .args(["quickstart", "--data-dir", data, "--epochs", "1"])
            .output()
            .expect("tt runs")
    };

    let first = run();
    assert_eq!(
        first.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(&first),
        stderr(&first)
    );
    let err = stderr(&first);
    for stage in ["preparing", "training", "evaluating", "completed"] {
        assert!(err.contains(stage), "the live stream shows {stage}: {err}");
    }
    let out = stdout(&first);
    assert!(
        out.contains("avg score") && out.contains("pass rate"),
        "the eval summary is printed: {out}"
    );
    assert!(out.contains("Worst"), "the worst examples are printed: {out}");
    assert!(data_dir.join("tt.db").exists());

    let second = run();
    assert_eq!(
        second.status.code(),
        Some(0),
        "a second invocation recreates its directory: {}",
        stderr(&second)
    );
    assert!(
        stdout(&second).contains("Run #1"),
        "the data directory was recreated, so the run is #1 again"
    );
}

#[test]
fn quickstart_refuses_a_directory_it_did_not_make() {
    let home = tempfile::tempdir().expect("home");
    let precious = home.path().join("mine");
    std::fs::create_dir_all(&precious).expect("dir");
    std::fs::write(precious.join("notes.txt"), "keep me").expect("file");
    let out = tt_command(home.path())
        .args(["quickstart", "--data-dir", precious.to_str().expect("utf-8")])
        .output()
        .expect("tt runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("was not made by `tt quickstart`"), "{}", stderr(&out));
    assert!(precious.join("notes.txt").exists());
}
