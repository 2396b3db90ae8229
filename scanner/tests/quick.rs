//! The quick scan (issue 14) end to end, on a real NTFS disk built by `scripts/testimg/quick.sh`
//! (sfdisk, mkntfs, ntfs-3g, hivexsh): a `Run` value and a scheduled task point to EICAR files
//! that only the autostart step makes it read; an EICAR outside the high-risk areas is not read
//! (counted); with nothing planted, the quick verdict's own text, never the full clean.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::{scan_human, EICAR_RULE};
use serde_json::Value;

fn image(variant: &'static str) -> PathBuf {
    static PLANTED: OnceLock<PathBuf> = OnceLock::new();
    static CLEAN: OnceLock<PathBuf> = OnceLock::new();
    let cell = if variant == "planted" {
        &PLANTED
    } else {
        &CLEAN
    };
    cell.get_or_init(|| {
        let dir = common::repo_root().join(".cache/test/quick");
        std::fs::create_dir_all(&dir).expect("cache dir");
        let out = dir.join(format!("{variant}.img"));
        let script = common::repo_root().join("scripts/testimg/quick.sh");
        let r = Command::new("bash")
            .arg(&script)
            .arg(&out)
            .arg(variant)
            .output()
            .expect("run quick.sh");
        assert!(
            r.status.success(),
            "quick.sh failed: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        out
    })
    .clone()
}

/// `scanner scan --json EXTRA IMG`: the records (the target hashed before and after).
fn records(img: &Path, extra: &[&str]) -> (i32, Vec<Value>) {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let run = scan_human(&[img], &args);
    let recs = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    (run.code, recs)
}

fn of<'a>(recs: &'a [Value], t: &str) -> Vec<&'a Value> {
    recs.iter().filter(|r| r["type"] == t).collect()
}

fn finding_paths(recs: &[Value]) -> Vec<String> {
    let mut p: Vec<String> = of(recs, "finding")
        .iter()
        .map(|f| f["path"].as_str().unwrap_or("").to_string())
        .collect();
    p.sort();
    p
}

#[test]
fn quick_scan_finds_what_autostart_entries_run_and_lists_them() {
    let img = image("planted");
    let (code, recs) = records(&img, &["--quick"]);
    assert_eq!(code, 1, "infected: exit 1");
    assert_eq!(
        finding_paths(&recs),
        [
            "/Users/x/AppData/Roaming/Updater/update.dat",
            "/Windows/System32/refresh.dat"
        ],
        "the autostart targets are found, the EICAR in Program Files is not read"
    );
    assert!(of(&recs, "finding").iter().all(|f| f["rule"] == EICAR_RULE));
    let s = of(&recs, "summary")[0];
    assert_eq!(s["verdict"], "infected");
    assert_eq!(s["mode"], "quick");
    // setup.exe (MZ in a profile) and the two targets are read; the rest is counted.
    assert_eq!(s["files"], 3);
    assert_eq!(s["not_selected"], 6);
    let p = of(&recs, "persistence");
    let run_key = p
        .iter()
        .find(|e| e["kind"] == "run_key" && e["source"].as_str().unwrap().ends_with("|Updater"))
        .expect("the Run value is listed");
    assert_eq!(
        run_key["target"],
        "/Users/x/AppData/Roaming/Updater/update.dat"
    );
    assert_eq!(run_key["matched"][0], EICAR_RULE);
    assert_eq!(run_key["user_writable"], true);
    let task = p
        .iter()
        .find(|e| e["kind"] == "scheduled_task")
        .expect("the task is listed");
    assert_eq!(task["target"], "/Windows/System32/refresh.dat");
    assert_eq!(task["matched"][0], EICAR_RULE);
}

#[test]
fn quick_scan_with_nothing_planted_has_its_own_verdict_and_counts() {
    let img = image("clean");
    let (code, recs) = records(&img, &["--quick"]);
    assert_eq!(code, 0);
    assert!(finding_paths(&recs).is_empty(), "tool.exe must not be read");
    let s = of(&recs, "summary")[0];
    assert_eq!(
        (&s["verdict"], &s["mode"]),
        (&"clean".into(), &"quick".into())
    );
    assert_eq!(
        (s["files"].as_u64(), s["not_selected"].as_u64()),
        (Some(3), Some(6))
    );
    // `scanner report` shows it as its own verdict and does not count it clean.
    let t = tempfile::tempdir().unwrap();
    let jsonl = t.path().join("quick.jsonl");
    let lines: Vec<String> = recs.iter().map(|r| r.to_string()).collect();
    std::fs::write(&jsonl, lines.join("\n") + "\n").unwrap();
    let rep = common::run_scanner(&["report".into(), jsonl.clone().into_os_string()]);
    assert_eq!(rep.code, 0, "{}", rep.stderr);
    assert!(rep.stdout.contains("QUICK_CLEAN"), "{}", rep.stdout);
    let rep = common::run_scanner(&[
        "report".into(),
        "--format".into(),
        "json".into(),
        jsonl.into_os_string(),
    ]);
    let v: Value = serde_json::from_str(&rep.stdout).expect("report json");
    assert_eq!(v["totals"]["clean"], 0, "{}", rep.stdout);
    let human = scan_human(&[&img], &["--quick"]);
    assert!(
        human
            .stdout
            .contains("verdict: QUICK SCAN: no threat in the high-risk areas"),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("3 files read, 6 not read"));
    assert!(!human.stdout.contains("verdict: CLEAN"));
    // The full scan of the same disk reads everything and finds the file the quick scan left.
    let (code, recs) = records(&img, &[]);
    assert_eq!(code, 1);
    assert_eq!(finding_paths(&recs), ["/Program Files/App/tool.exe"]);
    let s = of(&recs, "summary")[0];
    assert_eq!(s["mode"], "full");
    assert_eq!(s["files"], 9);
    assert!(s.get("not_selected").is_none());
}
