//! `gatehouse-idp check-config`: the real binary names every problem as
//! `FILE:LINE: message` and exits 1, or says there is none and exits 0 —
//! without starting anything (the database it names is not created).

use std::process::Command;

fn check(dir: &std::path::Path, text: &str) -> (i32, String) {
    let file = dir.join("idp.toml");
    std::fs::write(&file, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse-idp"))
        .args(["check-config", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn check_config_names_each_problem_with_file_and_line_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idp.sqlite");
    let good = format!(
        "issuer = \"https://idp.example.com\"\ndatabase = \"{}\"\n\n[tokens]\nid_jag = 120\n",
        db.display()
    );
    let (code, out) = check(dir.path(), &good);
    assert_eq!(code, 0, "{out}");
    assert!(out.trim_end().ends_with("idp.toml: no problems"), "{out}");

    let bad = good
        .replace(".com\"", ".com/\"")
        .replace("id_jag = 120", "id_jag = 0");
    let (code, out) = check(dir.path(), &bad);
    assert_eq!(code, 1, "{out}");
    let file = dir.path().join("idp.toml").display().to_string();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with(&format!("{file}:1: issuer")), "{out}");
    assert!(
        lines[1].starts_with(&format!("{file}:5: tokens.id_jag")),
        "{out}"
    );
    assert!(!db.exists(), "check-config created the database");
}
